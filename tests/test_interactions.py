"""The interaction log (`log.interactions=true`): every visit, in order, with propensities
that are the logging policy's own, streamed per chunk and whole after a resume."""

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from experiments.config import build_experiment, register_configs
from recsim.core import loop
from recsim.runs import interactions
from recsim.runs.experiment import run_and_write

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["env.n_items=40", "env.n_users=200", "env.users_per_step=8", "steps=60",
         "log_every=10", "seeds=2", "agent=linucb", "exploration=epsilon_greedy",
         "exploration.epsilon=0.3", "log.interactions=true", "compilation_cache=null"]  # fmt: skip
register_configs()


def experiment(*overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return build_experiment(compose(config_name="config", overrides=[*SMALL, *overrides]))


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    built = experiment()
    output = run_and_write(built, run_dir, progress=False)
    return built, output, run_dir, pd.read_parquet(run_dir / interactions.DIR)


def test_every_visit_is_logged_once_in_order_with_the_runs_clicks(logged):
    built, output, run_dir, log = logged
    assert len(list((run_dir / interactions.DIR).glob("part-*.parquet"))) == 6  # one per chunk
    parts = sorted(path.name for path in (run_dir / interactions.DIR).iterdir())
    assert parts == [f"part-{chunk:04d}.parquet" for chunk in range(6)]
    assert len(log) == 2 * 60 * 8  # simulations × steps × users per step
    assert list(log.columns[:2]) == ["simulation", "seed"]
    assert list(log.columns) == ["simulation", "seed", "step", "user_id", "user_group",
                                 "user_features", "slate", "clicks", "slot_propensity",
                                 "chain_propensity", "slate_propensity"]  # fmt: skip
    for simulation, rows in log.groupby("simulation"):
        np.testing.assert_array_equal(rows["step"], np.repeat(np.arange(60), 8))
        assert (rows["seed"] == simulation).all()  # seeds 0, 1 of the only grid point
        clicks = np.stack(rows["clicks"]).sum()
        frame = output.frame[output.frame["seed"] == simulation]
        assert clicks == frame["clicks"].sum()  # the metrics' click counts, window by window
        # window w (steps 10w .. 10w + 9) is the metrics' row logged at step 10(w + 1)
        per_window = np.stack(rows["clicks"]).sum(axis=1).reshape(6, 80).sum(axis=1)
        np.testing.assert_array_equal(frame["step"], [10, 20, 30, 40, 50, 60])
        np.testing.assert_array_equal(frame["clicks"], per_window)


def test_the_log_is_the_rollouts_trajectory(logged):
    built, _, _, log = logged
    params = jax.tree.map(lambda x: x[0], built.params)  # the only grid point
    _, transitions = loop.rollout(built.simulation, params, built.master_seed, 1, 60)
    rows = log[log["simulation"] == 1]
    slates, clicks = np.asarray(transitions.slates), np.asarray(transitions.feedback.clicks)
    np.testing.assert_array_equal(np.stack(rows["slate"]), slates.reshape(-1, 5))
    np.testing.assert_array_equal(np.stack(rows["clicks"]), clicks.reshape(-1, 5))
    np.testing.assert_array_equal(rows["user_id"], np.asarray(transitions.obs.user_ids).ravel())


def test_propensities_are_the_epsilon_greedy_loggers(logged):
    """A kept slot: 1 − ε (per slot and in the chain); an explored one: ε/(N − k) per slot,
    ε/(N − k − r + 1) in the chain for the r-th explored slot; the slate's is their product."""
    _, _, _, log = logged
    epsilon, n, k = 0.3, 40, 5
    slot = np.stack(log["slot_propensity"])
    chain = np.stack(log["chain_propensity"])
    kept = np.isclose(slot, 1 - epsilon)
    explored = np.isclose(slot, epsilon / (n - k))
    assert np.all(kept | explored)
    assert 0.25 < explored.mean() < 0.35  # ≈ ε of the slots explore
    rank = np.cumsum(explored, axis=1)
    np.testing.assert_allclose(chain, np.where(kept, 1 - epsilon, epsilon / (n - k - rank + 1)),
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(log["slate_propensity"], chain.prod(axis=1), rtol=1e-5)


def test_a_run_without_the_key_records_nothing():
    assert experiment("log.interactions=false").simulation.record is None  # (no writer either)


def test_a_resumed_run_logs_what_the_uninterrupted_one_does(tmp_path, logged):
    """Killed after chunk 3 with a checkpoint after chunk 2: chunk 3 is run again, its part
    rewritten whole; the earlier parts are kept; the log equals the uninterrupted one."""
    *_, whole = logged
    built = experiment("checkpoint_every=2")
    stale = tmp_path / interactions.DIR / "part-0009.parquet"  # an earlier run's leftover
    stale.parent.mkdir()
    stale.write_bytes(b"not parquet")

    class Die(Exception):
        pass

    original = interactions.Writer.__call__

    def die_after_chunk_3(self, chunk, records):
        original(self, chunk, records)
        if chunk == 3:
            raise Die

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(interactions.Writer, "__call__", die_after_chunk_3)
        with pytest.raises(Die):
            run_and_write(built, tmp_path, progress=False)
    assert not stale.exists()  # a run from its first step clears earlier parts
    run_and_write(built, tmp_path, progress=False)  # continues from the checkpoint
    resumed = pd.read_parquet(tmp_path / interactions.DIR)
    pd.testing.assert_frame_equal(resumed, whole)
