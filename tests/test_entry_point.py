"""`python -m experiments.run` end to end, as a user runs it (subprocess, real config)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsim.core.metric_table import (
    COUNT_NAMES,
    METRIC_NAMES,
    MODEL_METRICS,
    UNCERTAINTY_METRICS,
)
from tests.conftest import production_env, subprocess_backend

ROOT = Path(__file__).resolve().parents[1]


def run_entry_point(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """The README's command as a user runs it: XLA's default compilation, no cache."""
    env = production_env()
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    command = [sys.executable, "-m", "experiments.run", f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def default_runs(tmp_path_factory):
    """The default experiment with each baseline agent (the real default horizon)."""
    base = tmp_path_factory.mktemp("runs")
    runs = {}
    for agent in ("oracle", "random", "popularity"):
        result = run_entry_point(base / agent, f"agent={agent}")
        assert result.returncode == 0, result.stderr
        runs[agent] = (base / agent, result)
    return runs


@pytest.mark.slow
def test_default_run_writes_every_result_file(default_runs):
    run_dir, result = default_runs["popularity"]
    for name in ("metrics.parquet", "curves.png", "run.json", "COMPLETED"):
        assert (run_dir / name).is_file(), name
    assert f"results: {run_dir}" in result.stdout
    assert "expected_ctr" in result.stdout and "interactions/s" in result.stdout
    frame = pd.read_parquet(run_dir / "metrics.parquet")
    assert list(frame.columns) == ["seed", "step", *COUNT_NAMES, *METRIC_NAMES]
    assert len(frame) == 8 * 40 and sorted(frame["seed"].unique()) == list(range(8))
    info = json.loads((run_dir / "run.json").read_text())
    # popularity has no click model: the model metrics are not applicable; the default world
    # replaces no item and loses no user: nor are the cold-start metrics and churn; the rest
    # is finite.
    absent = [*MODEL_METRICS, "new_item_exposure", "new_item_recall", "churn_rate"]
    assert info["not_applicable"] == absent
    assert frame[absent].isna().all().all()
    applicable = [name for name in METRIC_NAMES if name not in absent]
    assert np.isfinite(frame[applicable].to_numpy()).all()
    assert info["traces"] == 1 and info["compiles"] == {"init": 1, "chunk": 1, "run": 0}
    assert info["interactions"] == 8 * 2000 * 32
    assert info["config"]["agent"]["name"] == "popularity"
    canonical = json.dumps(info["config"], sort_keys=True, separators=(",", ":"))
    assert info["config_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert {"python", "jax", "jaxlib", "flax", "optax"} <= set(info["versions"])
    assert info["backend"] == subprocess_backend() and info["devices"]
    assert info["compile_seconds"] > 0 and info["interactions_per_second"] > 0


@pytest.mark.slow
def test_oracle_has_zero_regret_and_full_precision_at_every_step(default_runs):
    frame = pd.read_parquet(default_runs["oracle"][0] / "metrics.parquet")
    assert (frame["regret"] == 0).all() and (frame["cum_regret"] == 0).all()
    assert (frame["precision_at_k"] == 1).all()
    # It knows the attraction: no uncertainty to cover or correlate (not 0 or 1 by convention);
    # its model metrics are exact.
    info = json.loads((default_runs["oracle"][0] / "run.json").read_text())
    assert info["not_applicable"] == [*UNCERTAINTY_METRICS, "new_item_exposure",
                                      "new_item_recall", "churn_rate"]  # fmt: skip
    assert frame[list(UNCERTAINTY_METRICS)].isna().all().all()
    assert (frame["prediction_mae"] == 0).all() and (frame["preference_spearman"] == 1).all()


@pytest.mark.slow
def test_random_ends_below_oracle_and_popularity(default_runs):
    final = {
        agent: pd.read_parquet(run_dir / "metrics.parquet").query("step == 2000")
        for agent, (run_dir, _) in default_runs.items()
    }
    random_ctr = final["random"]["expected_ctr"].mean()
    assert random_ctr < final["oracle"]["expected_ctr"].mean()
    assert random_ctr < final["popularity"]["expected_ctr"].mean()


@pytest.mark.slow
def test_same_command_twice_gives_identical_metrics(default_runs, tmp_path):
    """And `figures=false` changes no number and not the config hash: it only leaves out
    curves.png (removing an older one, which would not be of these numbers)."""
    first_dir, _ = default_runs["popularity"]
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "curves.png").write_bytes(b"an older run's figure")
    result = run_entry_point(tmp_path / "again", "agent=popularity", "figures=false")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again" / "COMPLETED").is_file()
    assert not (tmp_path / "again" / "curves.png").exists()
    first = pd.read_parquet(first_dir / "metrics.parquet")
    again = pd.read_parquet(tmp_path / "again" / "metrics.parquet")
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    hashes = [
        json.loads((d / "run.json").read_text())["config_hash"]
        for d in (first_dir, tmp_path / "again")
    ]
    assert hashes[0] == hashes[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, message",
    [
        ("env.slate_size=300", "env.slate_size=300 is out of range: allowed 1..200 (env.n_items)"),
        ("steps=-5", "steps=-5 is out of range: allowed >= 1"),
        ("env.n_itemz=5", "env.n_itemz: unknown key (not in LatentConfig)"),
        (
            "agent=nope",
            "agent=nope: no such option; choose one of best_fixed, lints, linucb, "
            "neural, oracle, popularity, popularity_clicks, random",
        ),
        ("seeds=abc", "seeds=abc: not a valid Integer"),
        (
            "hydra.run.dir=/proc/recsim",
            "hydra.run.dir=/proc/recsim: /proc is not writable; choose a writable directory",
        ),
        (
            "+foo=1",
            "foo: unknown key (not in RunConfig); the keys are seed, seeds, steps, "
            "log_every, progress, compilation_cache, overwrite, baseline, checkpoint_every, "
            "resume, figures, env, agent, exploration, grid, log",
        ),
    ],
)
def test_usage_error_exits_2_in_one_line_and_writes_nothing(tmp_path, override, message):
    run_dir = tmp_path / "bad"
    result = run_entry_point(run_dir, override)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"
    assert "Traceback" not in result.stderr + result.stdout
    assert not run_dir.exists()


@pytest.mark.slow
def test_unknown_key_exits_nonzero_without_traceback(tmp_path):
    result = run_entry_point(tmp_path / "bad", "env.n_itemz=5")
    assert result.returncode != 0
    assert "n_itemz" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bad" / "metrics.parquet").exists()


@pytest.mark.slow
def test_help_lists_every_choice_and_top_level_key_and_nothing_internal():
    import dataclasses

    import agents
    from agents import exploration as explorations
    from experiments.config import RunConfig

    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "experiments.run", "--help"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0
    words = set(result.stdout.replace(",", " ").replace(":", " ").split())
    presets = [path.stem for path in (ROOT / "conf" / "experiment").glob("*.yaml")]
    expected = [*agents.REGISTRY, *explorations.REGISTRY, *presets]
    expected += [f.name for f in dataclasses.fields(RunConfig) if f.name not in ("env", "agent",
                 "exploration", "grid")]  # fmt: skip
    assert set(expected) <= words, set(expected) - words
    assert "schema" not in result.stdout and ": null" not in result.stdout


@pytest.mark.slow
def test_an_output_dir_under_a_file_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file")
    result = run_entry_point(blocker / "run", "steps=50", "log_every=50")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: hydra.run.dir={blocker}/run: {blocker} is a file, not a directory; choose a "
        "writable directory"
    )
