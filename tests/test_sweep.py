"""Sweeps through the real entry point: merged files, launchers, failures, resume, presets."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsim.core.metric_table import METRIC_NAMES
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
# figures=false: each job's curves.png (drawn where a test reads it)
TINY = ["steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
        "figures=false"]  # fmt: skip
pytestmark = pytest.mark.slow


def multirun(sweep_dir: Path, *overrides: str, extra_env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.run", "--multirun", *overrides, *TINY,
               f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    env = subprocess_env(**(extra_env or {}))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def greedy_random(tmp_path_factory) -> Path:
    """A completed two-job sweep (`exploration=greedy,random`), run once for the tests that
    start from one; each copies it (`copy_of`)."""
    sweep_dir = tmp_path_factory.mktemp("greedy_random")
    result = multirun(sweep_dir, "exploration=greedy,random")
    assert result.returncode == 0, result.stderr[-2000:]
    return sweep_dir


def copy_of(sweep_dir: Path, destination: Path) -> Path:
    shutil.copytree(sweep_dir, destination, dirs_exist_ok=True)
    return destination


def manifest(sweep_dir: Path) -> list[dict]:
    return json.loads((sweep_dir / "manifest.json").read_text())["jobs"]


def test_basic_launcher_sweep_merges_every_job(tmp_path):
    result = multirun(tmp_path, "agent=neural,linucb", "exploration=greedy,ucb")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = manifest(tmp_path)
    assert [job["status"] for job in jobs] == ["completed"] * 4
    assert len({job["config_hash"] for job in jobs}) == 4
    assert {"agent=linucb", "exploration=ucb"} <= set(jobs[3]["overrides"])
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert len(frame) == 4 * 2 * 2  # jobs x seeds x logged steps
    assert {"agent", "exploration", "seed", "step", *METRIC_NAMES} <= set(frame.columns)
    assert set(frame["exploration"]) == {"greedy", "ucb"}
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns[:3]) == ["agent", "exploration", "metric"]
    assert len(summary) == 4 * len(METRIC_NAMES)
    # The default world replaces no item and loses no user: those metrics have no seed.
    absent = summary["metric"].isin(["new_item_exposure", "new_item_recall", "churn_rate"])
    assert (summary.loc[~absent, "n_seeds"] == 2).all()
    assert (summary.loc[absent, "n_seeds"] == 0).all() and summary.loc[
        absent, "final_mean"
    ].isna().all()
    row = summary.query("agent == 'neural' and exploration == 'ucb' and metric == 'ctr'")
    job = frame.query("agent == 'neural' and exploration == 'ucb' and step == 20")
    assert row["final_mean"].item() == pytest.approx(job["ctr"].mean())
    auc = frame.query("agent == 'neural' and exploration == 'ucb'").groupby("seed")["ctr"].mean()
    assert row["auc_mean"].item() == pytest.approx(auc.mean())
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert "4 completed" in result.stdout


def test_the_joblib_launcher_runs_a_sweep_over_seed_and_merges_it(tmp_path):
    result = multirun(tmp_path, "hydra/launcher=joblib", "seed=0,1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [job["status"] for job in manifest(tmp_path)] == ["completed"] * 2
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert len(frame) == 2 * 2 * 2  # jobs x seeds x logged steps
    assert set(frame["override.seed"]) == {"0", "1"}  # `seed` is the simulation's column
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary["override.seed"]) == {0, 1}


def test_a_failing_job_is_recorded_and_the_others_are_kept(tmp_path):
    """Under the submitit launcher (each job its own process, as on a cluster). A divergent
    learning rate makes the network's predictions NaN: that job must fail."""
    result = multirun(tmp_path, "hydra/launcher=submitit_local",
                      "agent.learning_rate=0.003,1e30,0.01")  # fmt: skip
    assert result.returncode == 1
    jobs = manifest(tmp_path)
    assert [job["status"] for job in jobs] == ["completed", "failed", "completed"]
    assert "prediction_mae is nan" in jobs[1]["error"]
    assert "Traceback" in (tmp_path / "1" / "traceback.txt").read_text()
    assert not (tmp_path / "1" / "COMPLETED").exists()
    assert "FAILED job 1: agent.learning_rate=1e+30" in result.stdout  # as Hydra writes it
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert set(frame["agent.learning_rate"]) == {"0.003", "0.01"}


def test_rerunning_a_sweep_runs_only_what_is_missing(tmp_path, greedy_random):
    copy_of(greedy_random, tmp_path)
    kept = tmp_path / "0" / "metrics.parquet"
    stamp = kept.stat().st_mtime_ns
    for path in sorted((tmp_path / "1").rglob("*"), reverse=True):  # job 1 is lost
        path.unlink() if path.is_file() else path.rmdir()
    (tmp_path / "1").rmdir()
    second = multirun(tmp_path, "exploration=greedy,random")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "skipped: exploration=greedy" in second.stdout
    assert second.stdout.count("results: ") == 1 and f"results: {tmp_path / '1'}" in second.stdout
    assert kept.stat().st_mtime_ns == stamp
    assert [job["status"] for job in manifest(tmp_path)] == ["completed"] * 2


def test_sweep_values_are_validated_before_any_job_runs(tmp_path):
    result = multirun(tmp_path, "exploration.epsilon=0.1,1.5,2.0")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 2 and "exploration.epsilon=1.5 is out of range" in lines[0]
    assert not any(p.is_dir() for p in tmp_path.glob("*")) if tmp_path.exists() else True


def test_aggregate_rebuilds_from_a_partial_sweep(tmp_path, greedy_random):
    copy_of(greedy_random, tmp_path)
    (tmp_path / "1" / "COMPLETED").unlink()  # as if killed while writing
    (tmp_path / "sweep.parquet").unlink()
    command = [sys.executable, "-m", "experiments.aggregate", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "1 completed, 1 failed" in result.stdout
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert set(frame["exploration"]) == {"greedy"}
    missing = subprocess.run([sys.executable, "-m", "experiments.aggregate", str(tmp_path / "x")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "is not a directory" in missing.stderr


def test_one_program_comparison_equals_the_sweeps(tmp_path):
    """Issue 16 item 3: compare.csv of strategies on the strategy axis (one program) equals
    compare.csv of the same strategies as a sweep (one program each), seed by seed."""
    strategies = "greedy,epsilon_greedy,ucb"
    assert multirun(tmp_path / "sweep", f"exploration={strategies}", "agent=neural",
                    "baseline='exploration=greedy'").returncode == 0  # fmt: skip
    command = [sys.executable, "-m", "experiments.run", f"grid.exploration.name=[{strategies}]",
               "agent=neural", "baseline='exploration=greedy'", *TINY,
               f"hydra.run.dir={tmp_path / 'one'}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    swept = pd.read_csv(tmp_path / "sweep" / "compare.csv")
    one = pd.read_csv(tmp_path / "one" / "compare.csv")
    keys = ["exploration", "metric", "measure"]
    swept, one = (t.sort_values(keys).reset_index(drop=True) for t in (swept, one))
    assert len(one) > 0 and one[keys].equals(swept[keys])
    assert (one["n_seeds"] == swept["n_seeds"]).all()
    for column in ("baseline_mean", "mean", "diff", "ci_t_low", "ci_t_high"):
        np.testing.assert_allclose(one[column], swept[column], rtol=1e-4, atol=1e-6,
                                   err_msg=column)  # fmt: skip


def test_epsilon_sweep_preset_is_one_compiled_grid(tmp_path):
    command = [sys.executable, "-m", "experiments.run", "+experiment=epsilon_sweep", *TINY,
               f"hydra.run.dir={tmp_path}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["traces"] == 1 and info["grid_points"] == 6
    # XLA compilations measured while building init and chunk, and while running: the grid
    # is one program, compiled once and never again.
    assert info["compiles"] == {"init": 1, "chunk": 1, "run": 0}
    frame = pd.read_parquet(tmp_path / "metrics.parquet")
    assert frame.columns[0] == "exploration.epsilon"
    assert sorted(frame["exploration.epsilon"].unique()) == [0.0, 0.02, 0.05, 0.1, 0.2, 0.5]
    assert len(frame) == 6 * 2 * 2


def test_simulations_shard_over_several_devices_with_identical_results(tmp_path):
    script = (
        "import json, sys; from tests.conftest import simulation; from recsim.core import loop\n"
        "sim, params = simulation('neural')\n"
        "r = loop.run(sim, params, master_seed=0, seeds=range(4), steps=20)\n"
        "json.dump({'devices': r.devices, 'clicks': r.rows['clicks'].tolist(),"
        " 'ectr': r.rows['expected_ctr'].tolist()}, sys.stdout)\n"
    )
    outputs = []
    for count in (1, 2):
        env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT),
               "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
               f"--xla_force_host_platform_device_count={count}"}  # fmt: skip
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(json.loads(result.stdout))
    single, sharded = outputs
    assert single["devices"] == 1 and sharded["devices"] == 2
    assert single["clicks"] == sharded["clicks"]
    np.testing.assert_allclose(single["ectr"], sharded["ectr"], rtol=1e-6)


def test_preset_sweeps_are_validated_before_any_job_runs(tmp_path):
    result = multirun(tmp_path / "sweep", "+experiment=static", "agent=neural,random",
                      "exploration=greedy", "env.drift_rate=2")  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 2  # every job of the preset's sweep, each refused
    assert all("env.drift_rate=2.0 is out of range" in line for line in lines)
    assert not (tmp_path / "sweep").exists()


def test_a_reordered_sweep_in_the_same_dir_is_refused_untouched(tmp_path, greedy_random):
    copy_of(greedy_random, tmp_path)
    stamp = (tmp_path / "0" / "metrics.parquet").stat().st_mtime_ns
    record = (tmp_path / "0" / "job.json").read_text()
    result = multirun(tmp_path, "exploration=random,greedy")
    assert result.returncode != 0
    assert "holds the completed result of another configuration" in result.stderr
    assert (tmp_path / "0" / "metrics.parquet").stat().st_mtime_ns == stamp
    assert (tmp_path / "0" / "job.json").read_text() == record
