"""Every exploration strategy with every learning agent, through the real entry point."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from agents import exploration as explorations
from recsim.core.metric_table import MODEL_METRICS
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_strategy_with_neural_and_linucb_runs_through_the_entry_point(tmp_path):
    """One job per learning agent, each running every registered strategy on the strategy axis
    (one program per agent; each strategy's slates are those it shows alone:
    tests/test_strategy_axis.py)."""
    strategies = sorted(explorations.REGISTRY)
    command = [
        sys.executable, "-m", "experiments.run", "--multirun", "agent=neural,linucb",
        f"grid.exploration.name=[{','.join(strategies)}]",
        "steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
        "figures=false", f"hydra.sweep.dir={tmp_path}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True,
                            timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 2
    for job, agent in zip(jobs, ["neural", "linucb"], strict=True):
        assert (job / "COMPLETED").is_file(), job
        assert f"agent={agent}" in (job / ".hydra" / "overrides.yaml").read_text()
        frame = pd.read_parquet(job / "metrics.parquet")
        assert sorted(frame["exploration"].unique()) == strategies
        assert len(frame) == len(strategies) * 2 * 2  # strategies x seeds x logged steps
        assert frame[list(MODEL_METRICS)].notna().all().all(), agent
        explored = frame.groupby("exploration")["explore_fraction"].mean()
        assert explored["greedy"] == 0.0 and explored["random"] == 1.0, agent
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert len(frame.groupby(["agent", "exploration"])) == 2 * len(strategies)
