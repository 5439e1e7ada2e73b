"""LinUCB / LinTS: the ridge posterior against hand-computed solutions."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from agents import exploration as explorations
from agents import linear
from recsim.types import Feedback
from tests.conftest import at_step, small_env


def build(exploration="ucb", **config):
    env, env_params = small_env()
    strategy_class, strategy_make = explorations.REGISTRY[exploration]
    agent, params = linear.make(
        linear.LinearConfig(**config), env.spec, strategy_make(strategy_class())
    )
    state = env.init(jax.random.key(0), env_params)
    return agent, params, env, env_params, state


def test_sherman_morrison_matches_the_direct_inverse():
    a = jax.random.normal(jax.random.key(0), (4, 4))
    precision = a @ a.T + 4 * jnp.eye(4)
    z = jax.random.normal(jax.random.key(1), (4,))
    updated = linear.sherman_morrison(jnp.linalg.inv(precision), z)
    np.testing.assert_allclose(updated, np.linalg.inv(precision + np.outer(z, z)), rtol=1e-4)


def test_contexts_are_user_features_and_position_one_hot():
    z = linear.contexts(jnp.array([[2.0, 3.0]]), 3)
    np.testing.assert_array_equal(z[0], [[2, 3, 1, 0, 0], [2, 3, 0, 1, 0], [2, 3, 0, 0, 1]])


def test_updates_match_the_hand_computed_ridge_solution():
    agent, params, env, env_params, world = build(ridge=2.0, refresh_every=10_000)
    state = agent.init(jax.random.key(0), params)
    update = jax.jit(agent.update)
    k, d = agent.spec.slate_size, agent.dim
    precision = np.tile(2.0 * np.eye(d), (agent.spec.n_items, 1, 1))
    target = np.zeros((agent.spec.n_items, d))
    for step in range(12):
        obs = at_step(env.observe(jax.random.key(step), world, env_params), step)
        slates = jax.random.permutation(jax.random.key(100 + step), agent.spec.n_items)[:k]
        slates = jnp.tile(slates, (obs.user_ids.shape[0], 1))  # every user: the same items
        clicks = jax.random.bernoulli(jax.random.key(200 + step), 0.4, slates.shape).astype(int)
        state = update(None, state, obs, slates, Feedback(clicks=clicks), params)
        z = np.asarray(linear.contexts(obs.user_features, k))
        for u in range(slates.shape[0]):
            for j in range(k):
                i = int(slates[u, j])
                precision[i] += np.outer(z[u, j], z[u, j])
                target[i] += float(clicks[u, j]) * z[u, j]
    np.testing.assert_allclose(state.precision, precision, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(state.target, target, rtol=1e-5, atol=1e-5)
    covariance = np.linalg.inv(precision)
    np.testing.assert_allclose(state.covariance, covariance, rtol=2e-3, atol=2e-4)
    theta = np.einsum("nde,ne->nd", covariance, target)
    obs = at_step(env.observe(jax.random.key(99), world, env_params), 12)
    scores = agent.scores(jax.random.key(5), state, obs, params)
    z0 = np.asarray(linear.contexts(obs.user_features, k))[:, 0]
    np.testing.assert_allclose(scores.mean, z0 @ theta.T, rtol=1e-3, atol=1e-3)
    std = 0.5 * np.sqrt(np.einsum("ud,nde,ue->un", z0, covariance, z0))
    np.testing.assert_allclose(scores.std, std, rtol=1e-3, atol=1e-4)


def test_refresh_recomputes_the_inverse_exactly():
    agent, params, env, env_params, world = build(refresh_every=2)
    state = agent.init(jax.random.key(0), params)
    k = agent.spec.slate_size
    obs = env.observe(jax.random.key(0), world, env_params)
    slates = jnp.tile(jnp.arange(k), (obs.user_ids.shape[0], 1))
    feedback = Feedback(clicks=jnp.ones(slates.shape, int))
    state = agent.update(None, state, at_step(obs, 1), slates, feedback, params)
    product = np.einsum("nde,nef->ndf", state.precision, state.covariance)
    np.testing.assert_allclose(product, np.broadcast_to(np.eye(agent.dim), product.shape),
                               atol=1e-4)  # fmt: skip


def test_thompson_sample_has_the_posterior_spread():
    agent, params, env, env_params, world = build("thompson")
    state = agent.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(0), world, env_params)
    draws = jax.vmap(lambda key: agent.scores(key, state, obs, params).sample)(
        jax.random.split(jax.random.key(1), 4000)
    )
    scores = agent.scores(jax.random.key(2), state, obs, params)
    n = draws.shape[0]
    # Sampling error of the mean of n draws is std / sqrt(n): allow 5 of those, per entry.
    assert np.all(np.abs(draws.mean(0) - scores.mean) < 5 * scores.std / np.sqrt(n))
    np.testing.assert_allclose(draws.std(0), scores.std, rtol=0.1)


def test_linucb_learns_a_clear_preference():
    """Item 0 is always clicked and item 1 never: after feedback, 0 ranks above 1."""
    agent, params, env, env_params, world = build(refresh_every=10_000)
    state = agent.init(jax.random.key(0), params)
    update = jax.jit(agent.update)
    for step in range(20):
        obs = at_step(env.observe(jax.random.key(step), world, env_params), step)
        slates = jnp.tile(jnp.array([0, 1, 2]), (obs.user_ids.shape[0], 1))
        clicks = jnp.tile(jnp.array([1, 0, 0]), (obs.user_ids.shape[0], 1))
        state = update(None, state, obs, slates, Feedback(clicks=clicks), params)
    scores = agent.scores(jax.random.key(0), state, obs, params)
    assert np.all(scores.mean[:, 0] > 0.8) and np.all(np.abs(scores.mean[:, 1]) < 0.1)
    # Uncertainty shrinks where data were seen: shown items have lower std than unseen ones.
    assert np.all(scores.std[:, 0] < scores.std[:, 5])


def test_act_and_update_are_traced_once():
    agent, params, env, env_params, world = build()
    state = agent.init(jax.random.key(0), params)
    act = jax.jit(chex.assert_max_traces(agent.act, n=1))
    update = jax.jit(chex.assert_max_traces(agent.update, n=1))
    for step in range(4):
        obs = at_step(env.observe(jax.random.key(step), world, env_params), step)
        slates, info = act(jax.random.key(step), state, obs, params)
        feedback = Feedback(clicks=jnp.zeros(slates.shape, jnp.int32))
        state = update(jax.random.key(step), state, obs, slates, feedback, params)
    chex.clear_trace_counter()
