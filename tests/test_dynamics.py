"""Dynamics of `latent`: new items (item churn), users who leave (patience), and the agents
forgetting recycled item ids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import forgetting, replay
from envs.dynamics import drift, item_churn, patience
from recsim.core import loop
from tests.conftest import SEEDS, make_agent, simulation, small_env


def run_steps(env, params, steps, key=0):
    """Steps the env with a fixed slate [0..k-1] for everyone; returns states and feedback."""
    state = env.init(jax.random.key(key), params)
    slates = jnp.tile(jnp.arange(env.spec.slate_size), (env.spec.users_per_step, 1))
    history = []
    for t in range(steps):
        obs = env.observe(jax.random.fold_in(jax.random.key(99), t), state, params)
        new_state, feedback = env.step(jax.random.fold_in(jax.random.key(7), t), state, obs,
                                       slates, params)  # fmt: skip
        history.append((state, obs, feedback))
        state = new_state
    return state, history


def test_item_churn_replaces_the_stated_share_on_schedule_and_reports_ages():
    env, params = small_env(item_churn_rate=0.2, item_churn_every=3)  # N = 30: 6 items
    state, history = run_steps(env, params, 7)
    born = np.asarray(state.item_born)
    first, second = np.asarray(history[3][0].item_vecs), np.asarray(history[2][0].item_vecs)
    changed = np.any(first != second, axis=1)
    assert changed.sum() == 6  # after step 2 ((2 + 1) % 3 == 0), exactly round(0.2·30)
    assert np.all(born[changed] >= 3)
    assert np.sum(born == 6) == 6 and np.sum(born == 3) <= 6  # ids may churn twice
    # No churn between schedule points.
    np.testing.assert_array_equal(history[4][0].item_vecs, history[3][0].item_vecs)
    obs = history[3][1]
    np.testing.assert_array_equal(np.asarray(obs.item_age)[changed], 0)
    np.testing.assert_array_equal(np.asarray(obs.item_age)[~changed], 3)
    # Fresh items come from the same law: unit hidden vectors, features that match the topic.
    vecs = np.asarray(state.item_vecs)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    topics = np.asarray(state.item_topics)
    np.testing.assert_array_equal(np.argmax(np.asarray(state.item_features)[:, :4], 1), topics)


def test_no_item_churn_at_rate_zero():
    env, params = small_env(item_churn_every=1)
    state, history = run_steps(env, params, 4)
    np.testing.assert_array_equal(state.item_vecs, history[0][0].item_vecs)
    np.testing.assert_array_equal(state.item_born, 0)


def test_retiring_count_is_exact_and_uniform():
    counts = np.zeros(40)
    for seed in range(500):
        retire = item_churn.retiring(jax.random.key(seed), 40, jnp.float32(0.25), True)
        assert int(retire.sum()) == 10
        counts += np.asarray(retire)
    # Every id retires with probability 1/4: 125 expected of 500, sd ≈ 9.7.
    assert np.all(np.abs(counts - 125) < 5 * 9.7)
    assert not item_churn.retiring(jax.random.key(0), 40, jnp.float32(0.25), False).any()


def test_drift_hand_computed_with_and_without_renormalising():
    # User 0 clicked items (0, 4) and (2, 0): v̄ = (1, 2); user 1 clicked nothing.
    users = jnp.array([[2.0, 0.0], [0.0, 3.0]])
    shown = jnp.array([[[0.0, 4.0], [2.0, 0.0]], [[1.0, 1.0], [5.0, 5.0]]])
    clicks = jnp.array([[1, 1], [0, 0]])
    # A rating model's factors (unit=False): p ← p + η (v̄ − p) = (2, 0) + ½ (−1, 2) = (1.5, 1);
    # without a click p stays (0, 3), not (1 − η) p.
    np.testing.assert_allclose(drift.drift(users, shown, clicks, jnp.float32(0.5), unit=False),
                               [[1.5, 1.0], [0.0, 3.0]], rtol=1e-6)  # fmt: skip
    # Unit preferences: the same step, renormalised: (1.5, 1) / √3.25; no click, no change.
    np.testing.assert_allclose(drift.drift(users, shown, clicks, jnp.float32(0.5)),
                               [[1.5 / np.sqrt(3.25), 1.0 / np.sqrt(3.25)], [0.0, 3.0]],
                               rtol=1e-6)  # fmt: skip
    # `normalize` scales the last axis of any shape ([..., d], as documented): 4 ones -> ½.
    np.testing.assert_allclose(drift.normalize(jnp.ones((2, 3, 4))), 0.5, rtol=1e-6)


def test_patience_budget_hand_computed():
    budget = jnp.array([3.0, 1.0, 1.0, 2.5])
    clicks = jnp.array([[0, 0], [0, 0], [1, 0], [0, 1]])
    new, left = patience.spend(budget, clicks, jnp.float32(3.0), jnp.float32(2.0))
    # 3 − 1 = 2; 1 − 1 = 0 (leaves); 1 − 1 + 2 = 2; min(3, 2.5 − 1 + 2) = 3.
    np.testing.assert_allclose(new, [2.0, 0.0, 2.0, 3.0])
    np.testing.assert_array_equal(left, [False, True, False, False])
    _, never = patience.spend(budget, clicks, jnp.float32(0.0), jnp.float32(2.0))
    assert not never.any()


def test_users_who_leave_are_replaced_by_fresh_users():
    # A near-zero click probability: every visit is unsatisfying, patience 1 -> all leave.
    env, params = small_env(bias_mean=-30.0, bias_scale=0.0, patience=1.0)
    state, history = run_steps(env, params, 1)
    before, obs, feedback = history[0]
    ids = np.asarray(obs.user_ids)
    assert np.all(np.asarray(feedback.left))
    assert np.all(np.any(np.asarray(state.user_vecs)[ids] != np.asarray(before.user_vecs)[ids], 1))
    np.testing.assert_allclose(np.asarray(state.budget)[ids], 1.0)  # a full budget
    np.testing.assert_allclose(np.asarray(state.boredom)[ids], 0.0)
    others = np.setdiff1d(np.arange(env.n_users), ids)
    np.testing.assert_array_equal(state.user_vecs[others], before.user_vecs[others])


def test_leaving_users_show_in_churn_rate_and_lifetime():
    sim, params = simulation("random", bias_mean=-30.0, bias_scale=0.0, patience=2.0)
    rows = loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=10).rows
    # Every visit costs 1 of a budget of 2: a user leaves on their second visit.
    assert np.all(rows["churn_rate"] > 0.1) and rows["churn_rate"].mean() > 0.25
    # 80 visits (8 users × 10 steps) over M + departures users.
    departures = np.round(rows["churn_rate"][:, -1] * 40 + rows["churn_rate"][:, 0] * 40)
    np.testing.assert_allclose(rows["user_lifetime"][:, -1], 80 / (100 + departures), rtol=1e-5)
    still, params = simulation("random")
    rows = loop.run(still, params, master_seed=0, seeds=SEEDS, steps=10).rows
    np.testing.assert_array_equal(rows["churn_rate"], 0.0)
    np.testing.assert_allclose(rows["user_lifetime"][:, -1], 80 / 100)


def aged_observation(env, params, fresh_ids, step=5):
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    age = jnp.full((env.spec.n_items,), 7, jnp.int32).at[jnp.array(fresh_ids)].set(0)
    return obs.replace(item_age=age, step=jnp.int32(step))


def test_fresh_items_only_after_step_zero():
    env, params = small_env()
    obs = aged_observation(env, params, [2, 5])
    assert np.flatnonzero(forgetting.fresh_items(obs, 30)).tolist() == [2, 5]
    assert not forgetting.fresh_items(obs.replace(step=jnp.int32(0)), 30).any()
    assert not forgetting.fresh_items(obs.replace(step=None), 30).any()


def greedy_agent(name, env):
    return make_agent(name, env.spec, "greedy")


def test_neural_agent_forgets_the_bias_moments_and_examples_of_recycled_ids():
    env, env_params = small_env()
    agent, params = greedy_agent("neural", env)
    state = agent.init(jax.random.key(0), params)
    bias = jnp.arange(30, dtype=jnp.float32)[None].repeat(agent.members, 0) + 1.0
    network = jax.tree_util.tree_map_with_path(
        lambda path, x: bias if "item_bias" in str(path) else x, state.network
    )
    buffer = replay.add(jax.random.key(1), state.replay, jnp.ones((8, 6)),
                        jnp.tile(jnp.array([2, 3, 4]), (8, 1)), jnp.ones((8, 3)), True)  # fmt: skip
    buffer = buffer.replace(weights=jnp.ones_like(buffer.weights))
    state = state.replace(network=network, replay=buffer)
    obs = aged_observation(env, env_params, [2, 5])
    forgotten = agent.forget(state, obs)
    b = np.asarray(forgotten.network["params"]["item_bias"])
    assert np.all(b[:, [2, 5]] == 0) and np.all(b[:, [0, 1, 3, 4, 6]] > 0)
    items = np.asarray(forgotten.replay.items[: forgotten.replay.size])
    weights = np.asarray(forgotten.replay.weights[: forgotten.replay.size])
    assert np.all(weights[items == 2] == 0) and np.all(weights[items != 2] == 1)


def test_linear_agent_resets_the_posterior_of_recycled_ids():
    env, env_params = small_env()
    agent, params = greedy_agent("linucb", env)
    state = agent.init(jax.random.key(0), params)
    state = state.replace(precision=state.precision * 3.0, target=state.target + 1.0)
    forgotten = agent.forget(state, aged_observation(env, env_params, [4]), params)
    eye = np.eye(agent.dim)
    np.testing.assert_allclose(forgotten.precision[4], eye * float(params.ridge))
    np.testing.assert_allclose(forgotten.covariance[4], eye / float(params.ridge))
    np.testing.assert_array_equal(forgotten.target[4], 0.0)
    np.testing.assert_allclose(forgotten.precision[3], 3.0 * eye * float(params.ridge))


def test_popularity_forgets_the_clicks_of_recycled_ids():
    env, env_params = small_env()
    agent, params = greedy_agent("popularity", env)
    state = agent.init(jax.random.key(0), params).replace(clicks=jnp.arange(30, dtype=jnp.int32))
    forgotten = agent.forget(state, aged_observation(env, env_params, [29, 28]))
    assert forgotten.clicks[29] == 0 and forgotten.clicks[28] == 0 and forgotten.clicks[27] == 27


@pytest.mark.parametrize("click_model", ["pbm", "cascade", "dcm", "mnl"])
def test_oracle_regret_is_exactly_zero_under_every_model_and_dynamics(click_model):
    sim, params = simulation(
        "oracle", click_model=click_model, item_churn_rate=0.3, item_churn_every=4,
        patience=1.0, drift_rate=0.1, boredom_penalty=0.2, bias_mean=-5.0,
    )  # fmt: skip
    rows = loop.run(sim, params, master_seed=0, seeds=range(3), steps=20).rows
    np.testing.assert_array_equal(rows["regret"], 0.0)
    np.testing.assert_array_equal(rows["cum_regret"], 0.0)
    np.testing.assert_array_equal(rows["precision_at_k"], 1.0)
    np.testing.assert_array_equal(rows["ndcg_at_k"], 1.0)
    assert np.all(rows["churn_rate"].sum(1) > 0)  # the dynamics were really on
    assert np.all(rows["new_item_exposure"][:, 1:].sum(1) > 0)


@pytest.mark.parametrize("click_model", ["pbm", "cascade", "dcm", "mnl"])
def test_every_agent_has_non_negative_regret_under_every_model(click_model):
    for name in ("random", "best_fixed", "popularity"):
        sim, params = simulation(name, click_model=click_model, item_churn_rate=0.3,
                                 item_churn_every=4, patience=2.0)  # fmt: skip
        rows = loop.run(sim, params, master_seed=0, seeds=range(2), steps=20).rows
        assert np.all(rows["regret"] >= 0), name
