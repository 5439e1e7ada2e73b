"""`recsim.runs.job.run_job`: one job's lifecycle and record, without Hydra."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import pandas as pd
import pytest

from recsim.runs import interrupt, jobs, results
from recsim.runs.experiment import Experiment
from recsim.runs.job import ForeignResultError, run_job
from tests.conftest import simulation


def tiny_experiment(agent="popularity", steps=20) -> Experiment:
    sim, params = simulation(agent)
    grid_params = jax.tree.map(lambda x: jnp.asarray(x)[None], params)  # one grid point
    config = {"agent": {"name": agent}, "seeds": 2, "steps": steps}
    return Experiment(sim, grid_params, master_seed=0, seeds=(0, 1), steps=steps, config=config)


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """A sweep dir whose job 0 ran to completion."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    outcome = run_job(tiny_experiment(), sweep_dir / "0", ["agent=popularity"], sweep_dir)
    return sweep_dir, outcome


def test_a_completed_job_is_recorded_with_its_results_in_memory(completed):
    sweep_dir, outcome = completed
    assert outcome.status == "completed" and outcome.error is None
    assert jobs.read(sweep_dir / "0")["status"] == "completed"
    assert results.is_completed(sweep_dir / "0")
    written = pd.read_parquet(sweep_dir / "0" / "metrics.parquet")
    pd.testing.assert_frame_equal(outcome.output.frame, written, check_exact=True)
    info = json.loads((sweep_dir / "0" / "run.json").read_text())
    assert info == json.loads(json.dumps(outcome.output.info, default=str))
    assert info["traces"] == 1 and info["compiles"] == {"init": 1, "chunk": 1, "run": 0}
    assert outcome.record == {
        "overrides": ["agent=popularity"],
        "config_hash": results.config_hash(tiny_experiment().config),
    }


def test_a_config_completed_in_the_sweep_is_skipped_elsewhere(completed):
    sweep_dir, _ = completed
    outcome = run_job(tiny_experiment(), sweep_dir / "1", ["agent=popularity"], sweep_dir)
    assert outcome.status == "skipped" and outcome.completed_in == sweep_dir / "0"
    record = jobs.read(sweep_dir / "1")
    assert record["status"] == "skipped" and record["completed_in"] == str(sweep_dir / "0")
    assert not (sweep_dir / "1" / "metrics.parquet").exists()


def test_rerunning_a_completed_job_touches_nothing(completed):
    sweep_dir, _ = completed
    before = {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "0").iterdir()}
    outcome = run_job(tiny_experiment(), sweep_dir / "0", ["agent=popularity"], sweep_dir)
    assert outcome.status == "skipped" and outcome.completed_in == sweep_dir / "0"
    assert {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "0").iterdir()} == before


def test_another_configurations_result_is_refused_untouched(completed):
    sweep_dir, _ = completed
    other = dataclasses.replace(tiny_experiment(), master_seed=1, config={"other": True})
    before = {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "0").iterdir()}
    with pytest.raises(ForeignResultError, match="completed result of another configuration"):
        run_job(other, sweep_dir / "0", ["seed=1"], sweep_dir)
    assert {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "0").iterdir()} == before


def test_an_error_raised_after_ctrl_c_is_an_interrupt_not_a_failure(tmp_path):
    """A Ctrl-C that lands inside library code can surface as another exception (seen in
    `tests/test_interrupt.py`: "'int' object has no attribute '_get_vars'" from JAX's
    tracing): once Ctrl-C was requested, any error ends the job `interrupted` and re-raises
    KeyboardInterrupt, as the sweep and the entry point expect."""
    interrupt.REQUESTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_job(tiny_experiment(steps=7), tmp_path / "run", ["steps=7"])
    finally:
        interrupt.REQUESTED.clear()
    assert jobs.read(tmp_path / "run")["status"] == "interrupted"
    assert not results.is_completed(tmp_path / "run")


def test_a_failing_job_is_recorded_and_returned_not_raised(tmp_path):
    outcome = run_job(tiny_experiment(steps=7), tmp_path / "run", ["steps=7"])
    assert outcome.status == "failed" and isinstance(outcome.error, ValueError)
    record = jobs.read(tmp_path / "run")
    assert record["status"] == "failed" and record["overrides"] == ["steps=7"]
    assert record["error"].startswith("ValueError: steps=7 is not a multiple")
    assert "Traceback" in (tmp_path / "run" / jobs.TRACEBACK_FILE).read_text()
    assert not results.is_completed(tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.parquet").exists()
