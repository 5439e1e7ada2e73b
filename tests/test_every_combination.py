"""Every exploration strategy with every learning agent, through the real entry point."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from agents import exploration as explorations
from recsim.core.metric_table import MODEL_METRICS
from tests.conftest import TINY_STRATEGIES, subprocess_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@TINY_STRATEGIES
def test_every_strategy_with_neural_and_linucb_runs_through_the_entry_point(tmp_path):
    strategies = ",".join(sorted(explorations.REGISTRY))
    command = [
        sys.executable, "-m", "experiments.run", "--multirun",
        "agent=neural,linucb", f"exploration={strategies}",
        "steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
        f"hydra.sweep.dir={tmp_path}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True,
                            timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 2 * len(explorations.REGISTRY)
    seen = set()
    for job in jobs:
        assert (job / "COMPLETED").is_file(), job
        frame = pd.read_parquet(job / "metrics.parquet")
        assert len(frame) == 2 * 2 and frame[list(MODEL_METRICS)].notna().all().all()
        title = next(line for line in result.stdout.splitlines() if line.startswith("env="))
        assert title
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        seen.add(overrides)
    assert len(seen) == len(jobs)
