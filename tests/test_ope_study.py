"""`python -m experiments.ope`: the simulator's off-policy study against its exact truth.

Small worlds (N = 10 items, k = 3) logged by a uniform logger, 20 seeds as replications:
under the position-based model IIPS and PI are unbiased (mean error over seeds within 3
standard errors of 0); under the cascade model IIPS is biased and RIPS is not — the claims
README "Off-policy evaluation" makes, checked on the engine's own worlds and policies."""

import functools
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from experiments.ope_config import build_study, register
from recsim.ope.study import run_study
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
WORLD = ["env.n_items=10", "env.slate_size=3", "env.n_users=200", "env.users_per_step=16",
         "env.n_topics=3", "seeds=20", "steps=100", "log_every=50", "compilation_cache=null",
         "~targets.ucb"]  # fmt: skip
register()


@functools.cache
def study_errors(click_model: str) -> pd.DataFrame:
    """Errors over seeds at the full log (1,600 rounds per seed) of the default targets."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("ope", overrides=[*WORLD, f"env.click_model={click_model}"])
    import tempfile

    with tempfile.TemporaryDirectory() as run_dir:
        errors = run_study(build_study(cfg), Path(run_dir), progress=False)["errors"]
    return errors[errors["step"] == errors["step"].max()].set_index(["target", "estimator"])


def z(errors, target, estimator):
    row = errors.loc[(target, estimator)]
    return row["bias"] / row["bias_se"], row


@pytest.mark.xdist_group("ope_pbm")  # one worker computes the study, once
@pytest.mark.parametrize("target", ["greedy", "epsilon_greedy", "oracle"])
def test_iips_and_pi_are_unbiased_under_pbm(target):
    errors = study_errors("pbm")
    for estimator in ("iips", "pi", "dr", "slate_ips", "rips"):
        score, row = z(errors, target, estimator)
        assert abs(score) < 3, f"{estimator} of {target}: bias {row['bias']:+.4f} = {score:+.1f} se"
        assert row["unsupported"] == 0  # a uniform logger shows everything


@pytest.mark.xdist_group("ope_cascade")
@pytest.mark.parametrize("target", ["greedy", "epsilon_greedy", "oracle"])
def test_under_cascade_iips_is_biased_and_rips_is_not(target):
    errors = study_errors("cascade")
    score, row = z(errors, target, "iips")
    # the random slates put worse items above the target's, so fewer users stop early: IIPS
    # credits each item with the clicks it gets below random items, and overestimates
    assert score > 10, f"IIPS of {target} under cascade: only {score:+.1f} se"
    score, row = z(errors, target, "rips")
    assert abs(score) < 3, f"RIPS of {target}: bias {row['bias']:+.4f} = {score:+.1f} se"


@pytest.mark.xdist_group("ope_pbm")
def test_the_logger_evaluated_on_its_own_log_is_its_mean_clicks():
    """Every weight of the logger's own policy is 1: each estimator but DM is the mean clicks."""
    errors = study_errors("pbm")
    values = [errors.loc[("logger", e), "estimate"] for e in ("iips", "snips", "slate_ips",
                                                               "rips", "pi")]  # fmt: skip
    np.testing.assert_allclose(values, values[0], rtol=1e-5)


def test_the_entry_point_writes_its_files_and_table(tmp_path):
    run_dir = tmp_path / "ope"
    command = [sys.executable, "-m", "experiments.ope", *WORLD, "seeds=2", "steps=20",
               "log_every=10", f"hydra.run.dir={run_dir}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "errors over 2 seeds at 320 rounds per seed" in done.stdout
    assert {p.name for p in run_dir.iterdir()} >= {"ope.parquet", "errors.csv", "ope.png",
                                                   "run.json", "COMPLETED"}  # fmt: skip
    frame = pd.read_parquet(run_dir / "ope.parquet")
    assert len(frame) == 2 * 4 * 8 * 2  # seeds × targets × estimators × log sizes
    targets = {"logger", "greedy", "epsilon_greedy", "oracle"}
    estimators = {"dm", "iips", "snips", "dr", "switch_dr", "slate_ips", "rips", "pi"}
    keys = set(frame[["seed", "target", "estimator", "step"]].itertuples(index=False, name=None))
    assert keys == set(itertools.product([0, 1], targets, estimators, [10, 20]))
    np.testing.assert_array_equal(frame["rounds"], 16 * frame["step"])  # 16 users a step
    z95 = 1.959963984540054  # the normal distribution's 97.5% quantile
    np.testing.assert_allclose(frame["low"], frame["estimate"] - z95 * frame["stderr"])
    np.testing.assert_allclose(frame["high"], frame["estimate"] + z95 * frame["stderr"])
    # errors.csv: each (target, estimator, log size) over the 2 seeds, by the README formulas
    errors = pd.read_csv(run_dir / "errors.csv")
    assert len(errors) == 4 * 8 * 2
    for row in errors.itertuples():
        seeds = frame[(frame["target"] == row.target) & (frame["estimator"] == row.estimator)
                      & (frame["step"] == row.step)]  # fmt: skip
        error = (seeds["estimate"] - seeds["truth"]).to_numpy()
        covered = (seeds["low"] <= seeds["truth"]) & (seeds["truth"] <= seeds["high"])
        rmse, bias_se = np.sqrt(np.mean(error**2)), error.std(ddof=1) / np.sqrt(2)
        expected = [seeds["truth"].mean(), seeds["estimate"].mean(), error.mean(), bias_se, rmse,
                    covered.mean()]  # fmt: skip
        got = [row.truth, row.estimate, row.bias, row.bias_se, row.rmse, row.coverage]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12, err_msg=str(row))
        assert row.seeds == 2 and row.rounds == 16 * row.step


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+targets.bad.name=nope", "error: targets.bad.name=nope: no such policy; choose one of "
                                   "oracle, greedy, random, epsilon_greedy"),
        ("agent=oracle", "error: agent=oracle: the logging policy must be a learning agent"),
        ("seeds=1", "error: seeds=1 is out of range: allowed >= 2"),
        ("seedz=3", "error: seedz: unknown key (not in OpeConfig)"),
        ("exploration=nope", "error: exploration=nope: no such option; choose one of"),
    ],
)  # fmt: skip
def test_a_bad_study_is_one_line_exit_2(tmp_path, override, message):
    command = [sys.executable, "-m", "experiments.ope", override, f"hydra.run.dir={tmp_path}/x"]
    done = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
