"""The real-data worlds `movielens` and `kuairec` on synthetic files in the data's exact
formats (`tests/real_data_files.py`): reading and validation, the fit and its cache, the
calibration against the README's equations, the dynamics, the world data held once, and
whole runs. Opt-in tests read the real files where RECSIM_ML100K / RECSIM_KUAIREC point."""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs import kuairec, movielens
from envs.data import factorization, kuairec_files, movielens_files
from envs.response import REGISTRY as RESPONSE_MODELS
from envs.table_config import KuaiRecConfig, MovieLensConfig
from recsim.core import memory, shared
from recsim.core.validation import ConfigError
from recsim.testing import check_env
from tests import real_data_files as files
from tests.conftest import production_env, subprocess_env

ROOT = Path(__file__).resolve().parents[1]

FAST_FIT = dict(epochs=60)  # the tests that need a world, not a good fit


@pytest.fixture(scope="module")
def planted():
    return files.planted_movielens()


@pytest.fixture(scope="module")
def ml_dirs(planted, tmp_path_factory):
    root = tmp_path_factory.mktemp("ml-100k")
    return files.write_official(root / "official", planted), files.write_recbole(
        root / "recbole", planted
    )


@pytest.fixture(scope="module")
def fit_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fits"))


@pytest.fixture(scope="module")
def kuairec_dir(tmp_path_factory):
    return files.write_kuairec(tmp_path_factory.mktemp("kuairec") / "data")


def ml_config(ml_dirs, fit_cache, **overrides) -> MovieLensConfig:
    base = dict(data_dir=str(ml_dirs[0]), fit_cache=fit_cache, **FAST_FIT)
    return MovieLensConfig(**{**base, **overrides})


# --- reading and validation -------------------------------------------------------------


def test_both_layouts_read_the_same_data(ml_dirs, planted):
    official, recbole = (movielens_files.load(str(d)) for d in ml_dirs)
    for data in (official, recbole):
        triples = sorted(zip(data.user.tolist(), data.item.tolist(), data.rating.tolist(),
                             strict=True))  # fmt: skip
        planted_triples = zip(planted.user.tolist(), planted.item.tolist(),
                              planted.rating.astype(float).tolist(), strict=True)  # fmt: skip
        assert triples == sorted(planted_triples)
        np.testing.assert_array_equal(data.age, planted.age)
        np.testing.assert_array_equal(data.gender, planted.gender)
        np.testing.assert_array_equal(data.occupation, planted.occupation)
        np.testing.assert_array_equal(data.genres, planted.genres)
    # item 267 has no release date in either file: the median year of the others
    median = np.median(np.delete(planted.year, 266))
    assert official.year[266] == recbole.year[266] == median
    np.testing.assert_array_equal(np.delete(official.year, 266), np.delete(planted.year, 266))


def edit(source: Path, target: Path, name: str, change) -> str:
    shutil.copytree(source, target)
    path = target / name
    path.write_bytes(change(path.read_bytes()))
    return str(target)


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("u.data", lambda b: b[b.index(b"\n") + 1:], "99999 ratings, 943 users, 1682 items"),
        ("u.data", lambda b: b.replace(b"\t5\t", b"\t6\t", 1), "outside the integers 1-5"),
        ("u.user", lambda b: b.replace(b"|", b"|", 4).replace(b"|M|", b"|X|", 1),
         "genders other than F and M"),
        ("u.user", lambda b: b.replace(b"student", b"astronaut", 1),
         "occupations not in MovieLens-100K: ['astronaut']"),
        ("u.item", lambda b: b.replace(b"|0|", b"|", 1), "cannot parse"),
    ],
)  # fmt: skip
def test_what_is_read_is_validated_in_one_line(ml_dirs, tmp_path, name, change, message):
    if name == "u.user" and b"student" not in (ml_dirs[0] / name).read_bytes():
        pytest.skip("no student in the planted users")  # (there are: 943 draws of 21)
    broken = edit(ml_dirs[0], tmp_path / "broken", name, change)
    with pytest.raises(ConfigError) as error:
        movielens_files.load(broken)
    text = str(error.value)
    assert message in text and "\n" not in text
    assert broken in text


@pytest.mark.parametrize("make, config, source", [
    (movielens.make, MovieLensConfig, "https://grouplens.org/datasets/movielens/100k/"),
    (kuairec.make, KuaiRecConfig, "https://kuairec.com/"),
])  # fmt: skip
@pytest.mark.parametrize("where", ["", "/nonexistent/dir"])
def test_absent_data_says_where_to_get_it_and_what_to_pass(make, config, source, where):
    with pytest.raises(ConfigError) as error:
        make(config(data_dir=where))
    text = str(error.value)
    assert source in text and "env.data_dir=" in text and "\n" not in text


def test_kuairec_is_read_and_validated(kuairec_dir, tmp_path):
    data = kuairec_files.load(str(kuairec_dir))
    assert data.watch_ratio.shape == (60, 90)
    observed = ~np.isnan(data.watch_ratio)
    assert 0.99 < observed.mean() < 1.0  # the planted matrix lacks a few pairs
    np.testing.assert_array_equal(data.counts, observed.sum(axis=1))
    assert data.categories.sum(axis=1).min() >= 1
    sparse = edit(kuairec_dir, tmp_path / "sparse", "small_matrix.csv",
                  lambda b: b"\n".join(b.split(b"\n")[::2]) + b"\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"observe [45]\d\.\d% \(the small matrix observes"):
        kuairec_files.load(sparse)
    negative = edit(kuairec_dir, tmp_path / "negative", "small_matrix.csv",
                    lambda b: b.replace(b"1593898068.378,", b"1593898068.378,-", 1))  # fmt: skip
    with pytest.raises(ConfigError, match="negative or non-finite"):
        kuairec_files.load(negative)


# --- the fit ----------------------------------------------------------------------------


def test_predict_is_the_biased_mf_formula():
    factors = (3.5, np.array([0.1, -0.2]), np.array([0.3, 0.0, -0.5]),
               np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.1, 0.2], [0.0, 1.0],
                                                              [-1.0, 0.5]]))  # fmt: skip
    got = factorization.predict(factors, np.array([0, 1, 1]), np.array([0, 1, 2]))
    # 3.5 + 0.1 + 0.3 + (0.1 + 0.4); 3.5 − 0.2 + 0 + (0 − 1); 3.5 − 0.2 − 0.5 + (−0.5 − 0.5)
    np.testing.assert_allclose(got, [4.4, 2.3, 1.8], atol=1e-6)


FIT_AT_THE_DEFAULTS = """
import sys
import numpy as np
from envs.data import factorization
from tests import real_data_files as files
planted = files.planted_movielens()
settings = factorization.FitSettings(rank=32, regularization=0.15, epochs=500,
                                     learning_rate=0.01, seed=0)
fit = factorization.fit(planted.user, planted.item, planted.rating.astype(np.float32), 943,
                        1682, settings)
np.savez(sys.argv[1], **fit._asdict())
"""


def test_the_fit_recovers_planted_ratings_and_reports_held_out_error(planted, tmp_path):
    """The fit at the default settings (500 full-batch Adam steps), in a process compiled as
    users compile (`production_env`): 4.5 s there, 22.6 s under the test session's quick
    compilation (this 2-core machine)."""
    saved = tmp_path / "fit.npz"
    done = subprocess.run([sys.executable, "-c", FIT_AT_THE_DEFAULTS, str(saved)],
                          cwd=ROOT, env=production_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(saved) as arrays:
        fit = factorization.Factors(**{name: arrays[name] for name in arrays.files})
    rating = planted.rating.astype(np.float32)
    held = factorization.split(len(rating), 0)
    assert held.sum() == 20_000
    baseline = np.sqrt(np.mean((rating[held] - rating[~held].mean()) ** 2))  # global mean
    # the planted noise (rounding, N(0, 0.3²)) floors the error near 0.4; the mean's is 1.0
    assert 0.4 < fit.held_out_rmse < 0.6 and baseline > 0.95
    assert fit.train_rmse < fit.held_out_rmse
    error = rating[held] - np.asarray(factorization.predict(fit, planted.user[held],
                                                            planted.item[held]))  # fmt: skip
    assert math.isclose(fit.held_out_rmse, float(np.sqrt(np.mean(error**2))), rel_tol=1e-6)


def test_the_fit_is_cached_by_data_and_settings(ml_dirs, tmp_path):
    data = movielens_files.load(str(ml_dirs[0]))
    settings = factorization.FitSettings(8, 0.1, 20, 0.01, 0)
    first, path, cached = factorization.cached_fit(data, settings, str(tmp_path))
    again, same_path, cached_again = factorization.cached_fit(data, settings, str(tmp_path))
    assert (cached, cached_again, same_path) == (False, True, path)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = dataclasses.replace(settings, regularization=0.2)
    assert factorization.cache_path(str(tmp_path), data.digest, other) != path
    assert factorization.cache_path(str(tmp_path), "another digest", settings) != path
    path.write_bytes(b"half a file")  # a corrupt cache is fitted again and replaced
    refit, _, cached = factorization.cached_fit(data, settings, str(tmp_path))
    assert not cached and refit.held_out_rmse == first.held_out_rmse
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


# --- the world --------------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_movielens_attraction_is_the_documented_calibration(ml_dirs, fit_cache):
    config = ml_config(ml_dirs, fit_cache, click_slope=2.5, click_centre=4.0,
                       boredom_penalty=0.3, boredom_decay=0.5)  # fmt: skip
    env, params = movielens.make(config)
    data = movielens_files.load(config.data_dir)
    fit, _, cached = factorization.cached_fit(data, movielens.settings(config), fit_cache)
    assert cached  # made by `make`
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    truth = env.truth(state, obs, params)
    users = np.asarray(obs.user_ids)  # slots = real users at the start
    catalogue = np.lexsort((np.arange(1682), data.year))  # release order
    rhat = (fit.mean + fit.user_bias[users][:, None] + fit.item_bias[catalogue]
            + fit.user_factors[users] @ fit.item_factors[catalogue].T)  # fmt: skip
    np.testing.assert_allclose(truth.attraction, sigmoid(2.5 * (rhat - 4.0)), rtol=2e-5,
                               atol=1e-6)  # fmt: skip
    # one step of slates [0..4]: exposure e = share of each slate's topics (first genre)
    slates = jnp.tile(jnp.arange(5, dtype=jnp.int32), (len(users), 1))
    state, _ = env.step(jax.random.key(2), state, obs.replace(step=jnp.int32(0)), slates, params)
    topics = np.argmax(data.genres[catalogue[:5]] > 0, axis=1)
    exposure = np.zeros(19)
    np.add.at(exposure, topics, 1 / 5)
    after = env.truth(state, obs, params).attraction
    fatigue = (1 - 0.3) ** exposure[np.argmax(data.genres[catalogue] > 0, axis=1)]
    np.testing.assert_allclose(after, sigmoid(2.5 * (rhat - 4.0)) * fatigue, rtol=2e-5,
                               atol=1e-6)  # fmt: skip


def test_kuairec_attraction_is_the_documented_calibration(kuairec_dir):
    env, params = kuairec.make(KuaiRecConfig(data_dir=str(kuairec_dir), boredom_penalty=0.0))
    data = kuairec_files.load(str(kuairec_dir))
    x = np.log1p(data.watch_ratio)
    x = np.where(np.isnan(x), np.nanmean(x, axis=1, keepdims=True), x)  # the user's mean
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    truth = env.truth(state, obs, params)
    expected = sigmoid(5.0 * (x[np.asarray(obs.user_ids)] - np.log(3.0)))
    np.testing.assert_allclose(truth.attraction, expected, rtol=2e-5, atol=1e-6)


def test_movielens_features_and_arrivals(ml_dirs, fit_cache):
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, user_feature_noise=0.0))
    data = movielens_files.load(str(ml_dirs[0]))
    assert env.spec.user_feature_dim == 7 + 2 + 21 + 8 and env.spec.item_feature_dim == 20 + 8
    assert env.spec.n_groups == 2 and env.spec.n_users == 943
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    users = np.asarray(obs.user_ids)
    features = np.asarray(obs.user_features)
    ages = np.digitize(data.age[users], movielens_files.AGE_EDGES)
    np.testing.assert_array_equal(np.argmax(features[:, :7], 1), ages)
    np.testing.assert_array_equal(np.argmax(features[:, 7:9], 1), data.gender[users])
    np.testing.assert_array_equal(np.argmax(features[:, 9:30], 1), data.occupation[users])
    np.testing.assert_array_equal(obs.user_groups, data.gender[users])
    # σ_y = 0: the projection of p̃ exactly
    profile = np.asarray(params.data.arrays.user_profile)[users]
    scale = np.sqrt(np.mean(np.sum(np.asarray(params.data.arrays.user_profile) ** 2, 1)))
    np.testing.assert_allclose(features[:, 30:], profile / scale @ np.asarray(
        state.user_projection).T, rtol=1e-4, atol=1e-5)  # fmt: skip
    # arrival weight 1 + ratings: the most active tenth of users come far more often
    counts = np.bincount(data.user, minlength=943)
    np.testing.assert_allclose(params.data.arrays.activity, np.log1p(counts), rtol=1e-6)
    keys = jax.random.split(jax.random.key(3), 300)
    seen = np.concatenate([np.asarray(env.observe(k, state, params).user_ids) for k in keys])
    visits = np.bincount(seen, minlength=943)
    top = counts >= np.quantile(counts, 0.9)
    assert visits[top].mean() > 3 * visits[~top].mean()


@pytest.mark.parametrize("click_model", RESPONSE_MODELS.names())
def test_movielens_meets_the_env_contract_with_every_response_model(ml_dirs, fit_cache,
                                                                    click_model):  # fmt: skip
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, click_model=click_model))
    check_env(env, params)


def test_every_dynamics_at_once_on_both_tables(ml_dirs, fit_cache, kuairec_dir):
    dynamics = dict(boredom_penalty=0.2, item_churn_rate=0.05, item_churn_every=1,
                    patience=1.0)  # fmt: skip
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, n_items=1500, drift_rate=0.1,
                                           **dynamics))  # fmt: skip
    check_env(env, params, steps=3)
    env, params = kuairec.make(KuaiRecConfig(data_dir=str(kuairec_dir), n_items=80, **dynamics))
    check_env(env, params, steps=3)


def test_drift_rejected_where_there_is_no_preference_vector(kuairec_dir):
    with pytest.raises(ConfigError, match=r"env.drift_rate=0.1: kuairec's preferences"):
        kuairec.make(KuaiRecConfig(data_dir=str(kuairec_dir), drift_rate=0.1))


def test_churn_swaps_items_with_the_ring_of_held_out_items_oldest_first(ml_dirs, fit_cache):
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, n_items=1600,
                                           item_churn_rate=0.025, item_churn_every=2))  # fmt: skip
    order = np.lexsort((np.arange(1682), movielens_files.load(str(ml_dirs[0])).year))
    state = env.init(jax.random.key(0), params)
    np.testing.assert_array_equal(state.catalogue, order[:1600])
    step = jax.jit(env.step)
    slates = jnp.zeros((32, 5), jnp.int32) + jnp.arange(5, dtype=jnp.int32)
    ring, head = order[1600:].copy(), 0  # the held-out items, oldest first
    for t in range(10):  # churns after steps 1, 3, 5, 7, 9: 40 items each, 82 held out
        obs = env.observe(jax.random.key(100 + t), state, params).replace(step=jnp.int32(t))
        before = np.asarray(state.catalogue)
        state, _ = step(jax.random.key(t), state, obs, slates, params)
        after = np.asarray(state.catalogue)
        changed = np.flatnonzero(before != after)
        assert len(changed) == (40 if t % 2 else 0)
        np.testing.assert_array_equal(np.asarray(state.item_born)[changed], t + 1)
        expected = before.copy()  # the ring in NumPy: the c-th retiring slot swaps with
        for c, slot in enumerate(changed):  # ring[(head + c) mod 82]
            position = (head + c) % len(ring)
            expected[slot], ring[position] = ring[position], before[slot]
        head = (head + len(changed)) % len(ring)
        np.testing.assert_array_equal(after, expected)
        np.testing.assert_array_equal(np.asarray(state.held_out), ring)
        assert sorted(np.concatenate([after, ring])) == list(range(1682))  # each item once


def test_a_user_who_leaves_is_replaced_by_a_real_user(ml_dirs, fit_cache):
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, patience=1.0,
                                           patience_refill=0.0))  # fmt: skip
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params).replace(step=jnp.int32(0))
    slates = jnp.zeros((32, 5), jnp.int32) + jnp.arange(5, dtype=jnp.int32)
    state, feedback = env.step(jax.random.key(2), state, obs, slates, params)
    assert np.asarray(feedback.left).all()  # one visit of budget, no refill: all leave
    slots = np.asarray(obs.user_ids)
    rows = np.asarray(state.user_row)[slots]
    np.testing.assert_array_equal(np.asarray(state.user_profile)[slots],
                                  np.asarray(params.data.arrays.user_profile)[rows])  # fmt: skip
    assert (rows != slots).mean() > 0.9  # drawn uniformly from 943: rarely the same
    np.testing.assert_array_equal(np.asarray(state.boredom)[slots], 0.0)


def test_drift_moves_the_user_factors_toward_the_clicked_items_unnormalised(ml_dirs, fit_cache):
    env, params = movielens.make(ml_config(ml_dirs, fit_cache, drift_rate=0.25, click_slope=50.0,
                                           click_centre=-10.0, boredom_penalty=0.0))  # fmt: skip
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params).replace(step=jnp.int32(0))
    slates = jnp.zeros((32, 5), jnp.int32) + jnp.arange(5, dtype=jnp.int32)
    new, feedback = env.step(jax.random.key(2), state, obs, slates, params)
    clicks = np.asarray(feedback.clicks)  # a = 1: each slot clicked when examined
    slots = np.asarray(obs.user_ids)
    p = np.asarray(state.user_profile)[slots]
    q = np.asarray(params.data.arrays.item_profile)[np.asarray(state.catalogue)[:5]]
    n = clicks.sum(1, keepdims=True)
    expected = np.where(n > 0, p + 0.25 * (clicks @ q / np.maximum(n, 1) - p), p)
    np.testing.assert_allclose(np.asarray(new.user_profile)[slots], expected, rtol=1e-5,
                               atol=1e-6)  # fmt: skip


# --- world data held once -----------------------------------------------------------------


def state_bytes(env_params, env, seeds: int, agent_name="random") -> list:
    from recsim.core import loop
    from tests.conftest import make_agent

    agent, agent_params = make_agent(agent_name, env.spec)
    sim = loop.Simulation(env, agent, log_every=5, windows_per_chunk=1)
    seen = []
    loop.compile_run(sim, loop.SimParams(env_params, agent_params), 0, range(seeds), 5,
                     check_memory=seen.append)  # fmt: skip
    return seen  # the state's `MemoryNeed`, then the compiled program's


def chunk_jaxpr(env_params, env, seeds: int):
    """The traced chunk program of `seeds` simulations of the random agent."""
    from recsim.core import loop
    from tests.conftest import make_agent

    agent, agent_params = make_agent("random", env.spec)
    sim = loop.Simulation(env, agent, log_every=5, windows_per_chunk=1)
    params = loop.batch_params(loop.SimParams(env_params, agent_params), seeds)
    axes = (None, 0, shared.axes(params))
    carry = jax.eval_shape(jax.vmap(sim.init, in_axes=axes), jax.random.key(0),
                           jnp.arange(seeds), params)  # fmt: skip
    return jax.jit(sim.chunk).trace(carry, params, jnp.int32(0)).jaxpr


def test_the_world_data_is_held_once_for_any_number_of_simulations(tmp_path):

    data_dir = files.write_kuairec(tmp_path / "data", n_users=200, n_videos=300)
    env, params = kuairec.make(KuaiRecConfig(data_dir=str(data_dir)))
    world = shared.nbytes(params)
    table = 200 * 300 * 4
    assert world > table  # the table, profiles, descriptors, ...
    (one, _), (two, _), (many, _) = (state_bytes(params, env, s) for s in (1, 2, 256))
    per_simulation = two.nbytes - one.nbytes
    assert one.nbytes == world + per_simulation  # the world counted once ...
    assert many.nbytes == world + 256 * per_simulation  # ... for any number of simulations
    # and the env makes no copy of it per simulation: its largest arrays in the chunk are
    # far smaller than 256 tables (they are [256, U or a block of users, N] attractions)
    made = memory.largest_intermediates(chunk_jaxpr(params, env, 256), count=10_000)
    by_env = [buffer for buffer in made if buffer.where.startswith("made at envs/")]
    assert by_env and max(buffer.nbytes for buffer in by_env) < 256 * table / 2, by_env[:3]


def test_a_grid_over_a_traced_knob_keeps_one_world_and_one_over_the_fit_is_refused(
    ml_dirs, fit_cache
):
    from hydra import compose, initialize_config_dir

    from experiments.config import build_experiment, register_configs

    register_configs()
    base = ["env=movielens", f"env.data_dir={ml_dirs[0]}", f"env.fit_cache={fit_cache}",
            "env.epochs=60", "agent=random", "seeds=3"]  # fmt: skip
    conf = str(ROOT / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        experiment = build_experiment(compose("config", base + ["grid.env.click_slope=[2,3]"]))
        assert "fit_cache" not in experiment.config["env"]  # where, not what: not hashed
        assert experiment.config["env"]["epochs"] == 60
        table = experiment.batched_params().env
        assert table.click_slope.shape == (6,)
        assert table.data.arrays.item_profile.shape == (1682, 32)  # no simulation axis
        with pytest.raises(ConfigError, match=r"grid.env.epochs=\[60, 80\] changes the world "
                                              r"data.*--multirun env.epochs=60,80"):  # fmt: skip
            build_experiment(compose("config", base + ["grid.env.epochs=[60,80]"]))


# --- whole runs ---------------------------------------------------------------------------


def test_the_first_run_fits_and_the_second_reads_the_fit(ml_dirs, tmp_path):
    args = [sys.executable, "-m", "experiments.run", "env=movielens",
            f"env.data_dir={ml_dirs[1]}", f"env.fit_cache={tmp_path / 'fits'}", "env.epochs=30",
            "agent=random", "seeds=2", "steps=20", "log_every=10", "figures=false"]  # fmt: skip
    first = subprocess.run(args + [f"hydra.run.dir={tmp_path / 'a'}"], cwd=ROOT,
                           capture_output=True, text=True, env=subprocess_env())  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert "movielens: fitted biased MF (rank 32, λ 0.15, 30 epochs)" in first.stderr
    assert "held-out RMSE" in first.stderr and (tmp_path / "a" / "metrics.parquet").is_file()
    recorded = json.loads((tmp_path / "a" / "run.json").read_text())["world_data"]
    digest = movielens_files.load(str(ml_dirs[1])).digest  # sha256 of the three files
    assert len(recorded) == 1 and recorded[0].startswith(f"{digest}:mf-")
    second = subprocess.run(args + [f"hydra.run.dir={tmp_path / 'b'}"], cwd=ROOT,
                            capture_output=True, text=True, env=subprocess_env())  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    assert "movielens: read the fit" in second.stderr and "fitted" not in second.stderr


@pytest.mark.slow
@pytest.mark.parametrize("world", ["movielens", "kuairec"])
def test_oracle_has_no_regret_and_random_ends_below_a_learner(world, ml_dirs, fit_cache,
                                                              kuairec_dir):  # fmt: skip
    from recsim.core import loop
    from tests.conftest import make_agent

    if world == "movielens":
        env, env_params = movielens.make(ml_config(ml_dirs, fit_cache))
    else:
        env, env_params = kuairec.make(KuaiRecConfig(data_dir=str(kuairec_dir),
                                                     users_per_step=16))  # fmt: skip
    results = {}
    for name, strategy in (("oracle", None), ("random", None), ("neural", "greedy")):
        agent, agent_params = make_agent(name, env.spec, strategy)
        sim = loop.Simulation(env, agent, log_every=50, windows_per_chunk=2)
        result = loop.run(sim, loop.SimParams(env_params, agent_params), 0, range(2), 400)
        results[name] = result.rows
    np.testing.assert_allclose(results["oracle"]["cum_regret"], 0.0, atol=1e-3)
    learner, random = (
        results["neural"]["expected_ctr"][:, -1],
        results["random"]["expected_ctr"][:, -1],
    )
    assert (learner > random + 0.03).all(), (learner, random)


# --- the real files (opt-in) -----------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("RECSIM_ML100K"), reason="RECSIM_ML100K not set")
def test_real_movielens_reads_and_fits_within_the_published_error(tmp_path):
    data = movielens_files.load(os.environ["RECSIM_ML100K"])
    assert (len(data.rating), len(data.age), len(data.year)) == (100_000, 943, 1_682)
    fit, _, _ = factorization.cached_fit(data, movielens.settings(MovieLensConfig()),
                                         str(tmp_path))  # fmt: skip
    assert 0.88 <= fit.held_out_rmse <= 0.98


@pytest.mark.skipif(not os.environ.get("RECSIM_KUAIREC"), reason="RECSIM_KUAIREC not set")
def test_real_kuairec_reads_the_small_matrix():
    data = kuairec_files.load(os.environ["RECSIM_KUAIREC"])
    assert data.watch_ratio.shape == (1_411, 3_327)
    assert np.mean(~np.isnan(data.watch_ratio)) > 0.99
