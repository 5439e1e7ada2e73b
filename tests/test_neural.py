"""The neural agent: networks, ensemble uncertainty, replay buffer, online training."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import neural, replay
from agents.networks import NETWORKS, ClickNet
from recsim.core import loop
from recsim.core.types import Feedback
from tests.conftest import at_step, make_agent, small_env


def build(exploration="greedy", **overrides):
    env, env_params = small_env()
    config = dataclasses.replace(neural.NeuralConfig(), **overrides)
    agent, params = make_agent("neural", env.spec, exploration, config)
    state = env.init(jax.random.key(0), env_params)
    obs = at_step(env.observe(jax.random.key(1), state, env_params), 0)
    return agent, params, obs


@pytest.mark.parametrize("network", ["two_tower", "mlp"])
def test_catalogue_scores_match_per_example_logits(network):
    """The fast catalogue path and the training path compute the same logits."""
    env, _ = small_env()
    spec = env.spec
    net = NETWORKS[network](spec.n_items, spec.slate_size, (16,), 8)
    users = jax.random.normal(jax.random.key(0), (3, spec.user_feature_dim))
    items = jax.random.normal(jax.random.key(1), (spec.n_items, spec.item_feature_dim))
    index = jnp.zeros((1,), jnp.int32)
    variables = net.init(jax.random.key(2), users[:1], index, index, items)
    table = net.apply(variables, users, items, method=ClickNet.catalogue)  # [3, N]
    u, i = jnp.meshgrid(jnp.arange(3), jnp.arange(spec.n_items), indexing="ij")
    pairs = net.apply(variables, users[u.ravel()], i.ravel(), jnp.zeros(u.size, int), items)
    np.testing.assert_allclose(table, pairs.reshape(table.shape), rtol=1e-5, atol=1e-5)


def test_ensemble_heads_differ_and_give_uncertainty():
    agent, params, obs = build(n_heads=4)
    state = agent.init(jax.random.key(0), params)
    probs = agent.predict(jax.random.key(1), state.network, obs)  # [H, U, N]
    assert probs.shape == (4, obs.user_ids.shape[0], agent.spec.n_items)
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.allclose(probs[a], probs[b])
    _, info = agent.act(jax.random.key(2), state, obs, params)
    assert np.all(np.asarray(info.uncertainty) > 0)
    np.testing.assert_allclose(info.scores, probs.mean(0), rtol=1e-6)
    np.testing.assert_allclose(info.uncertainty, probs.std(0), rtol=1e-5, atol=1e-7)


def test_mc_dropout_spread_comes_from_dropout_masks():
    agent, params, obs = build(uncertainty="dropout", dropout=0.3, n_heads=6)
    assert agent.members == 1
    state = agent.init(jax.random.key(0), params)
    probs = np.asarray(agent.predict(jax.random.key(1), state.network, obs))
    assert probs.shape[0] == 6 and not np.allclose(probs[0], probs[1])
    # The same weights without dropout give identical "samples": the spread is dropout's.
    deterministic = dataclasses.replace(agent, net=agent.net.clone(dropout=0.0))
    same = np.asarray(deterministic.predict(jax.random.key(1), state.network, obs))
    np.testing.assert_allclose(same[0], same[1])


def test_replay_ring_buffer_writes_blocks_and_wraps():
    buffer = replay.init(capacity=replay.capacity_for(10, 4), user_dim=2, members=3)
    assert buffer.items.shape == (12,)  # rounded up to a multiple of the block U*k = 4
    assert replay.capacity_for(3, 4) == 4 and replay.capacity_for(8, 4) == 8  # one block, two
    users = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    for step in range(4):  # 4 blocks of 4 examples into 12 slots: the last one wraps
        slates = jnp.array([[0, 1], [2, 3]]) + 10 * step
        clicks = jnp.array([[1, 0], [0, 1]])
        buffer = replay.add(jax.random.key(step), buffer, users + step, slates, clicks, True)
    assert int(buffer.size) == 12 and int(buffer.cursor) == 4
    np.testing.assert_array_equal(buffer.items[:4], [30, 31, 32, 33])  # overwrote block 0
    np.testing.assert_array_equal(buffer.items[4:8], [10, 11, 12, 13])
    np.testing.assert_array_equal(buffer.positions[:4], [0, 1, 0, 1])
    np.testing.assert_array_equal(buffer.clicks[:4], [1, 0, 0, 1])
    np.testing.assert_array_equal(buffer.user_features[:4], [[4, 5], [4, 5], [6, 7], [6, 7]])
    assert set(np.unique(buffer.weights).tolist()) == {0.0, 1.0}
    batch = replay.sample(jax.random.key(9), buffer, 64)
    assert batch.items.shape == (64,) and set(np.asarray(batch.items).tolist()) <= set(
        np.asarray(buffer.items).tolist()
    )


def test_sampling_only_reads_filled_slots():
    buffer = replay.init(capacity=40, user_dim=1, members=1)
    buffer = replay.add(
        jax.random.key(0), buffer, jnp.ones((2, 1)), jnp.array([[5, 6], [7, 8]]),
        jnp.ones((2, 2), int), False,
    )  # fmt: skip
    batch = replay.sample(jax.random.key(1), buffer, 200)
    assert set(np.asarray(batch.items).tolist()) == {5, 6, 7, 8}
    np.testing.assert_array_equal(buffer.weights[:4], 1.0)  # no bootstrap: all weights 1
    # One stored example (a world of one user and one slot): every draw is that example.
    single = replay.add(jax.random.key(0), replay.init(3, 1, 1), jnp.ones((1, 1)),
                        jnp.array([[5]]), jnp.ones((1, 1), int), False)  # fmt: skip
    batch = replay.sample(jax.random.key(1), single, 50)
    assert np.all(batch.items == 5) and np.all(batch.weights == 1.0)


def test_training_lowers_the_loss_on_the_replay_data():
    agent, params, obs = build(batch_size=64, n_updates=50)
    state = agent.init(jax.random.key(0), params)
    users = obs.user_ids.shape[0]
    slates = jnp.tile(jnp.arange(agent.spec.slate_size), (users, 1))
    clicks = (slates == 0).astype(jnp.int32)  # item 0 always clicked, others never
    state = state.replace(
        replay=replay.add(jax.random.key(1), state.replay, obs.user_features, slates, clicks, True)
    )
    everything = replay.sample(jax.random.key(2), state.replay, 256)
    before = agent.loss(jax.random.key(3), state.network, everything, obs.item_features)
    trained = agent.train(jax.random.key(4), state, obs.item_features, params)
    after = agent.loss(jax.random.key(3), trained.network, everything, obs.item_features)
    assert after < 0.5 * before
    probs = agent.predict(jax.random.key(5), trained.network, obs).mean(0)
    assert np.all(probs[:, 0] > probs[:, 1])


def test_update_trains_only_every_update_every_steps():
    agent, params, obs = build(update_every=3)
    state = agent.init(jax.random.key(0), params)
    users, k = obs.user_ids.shape[0], agent.spec.slate_size
    slates = jnp.tile(jnp.arange(k), (users, 1))
    feedback = Feedback(clicks=jnp.ones((users, k), jnp.int32))
    update = jax.jit(agent.update)
    changed = []
    for step in range(6):
        new = update(jax.random.key(step), state, at_step(obs, step), slates,
                     feedback, params)  # fmt: skip
        leaves = zip(jax.tree.leaves(state.network), jax.tree.leaves(new.network), strict=True)
        changed.append(any(not np.array_equal(a, b) for a, b in leaves))
        state = new
    assert changed == [False, False, True, False, False, True]
    assert int(state.replay.size) == 6 * users * k


def test_learning_rate_is_traced_and_vmappable():
    agent, params, obs = build(n_updates=5)
    state = agent.init(jax.random.key(0), params)
    users, k = obs.user_ids.shape[0], agent.spec.slate_size
    state = state.replace(replay=replay.add(
        jax.random.key(1), state.replay, obs.user_features,
        jnp.tile(jnp.arange(k), (users, 1)), jnp.ones((users, k), int), True,
    ))  # fmt: skip
    rates = jnp.array([1e-4, 1e-2])
    batched = jax.tree.map(lambda x: jnp.broadcast_to(x, (2, *jnp.shape(x))), params)
    batched = batched.replace(learning_rate=rates)
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (2, *x.shape)), state)
    train = jax.vmap(lambda s, p: agent.train(jax.random.key(2), s, obs.item_features, p))
    trained = train(states, batched)
    moved = [
        sum(float(jnp.abs(a[i] - b[i]).sum()) for a, b in zip(
            jax.tree.leaves(trained.network), jax.tree.leaves(states.network), strict=True))
        for i in range(2)
    ]  # fmt: skip
    assert moved[1] > 10 * moved[0] > 0


def test_act_and_update_are_traced_once():
    agent, params, obs = build()
    state = agent.init(jax.random.key(0), params)
    users, k = obs.user_ids.shape[0], agent.spec.slate_size
    feedback = Feedback(clicks=jnp.zeros((users, k), jnp.int32))
    act = jax.jit(chex.assert_max_traces(agent.act, n=1))
    update = jax.jit(chex.assert_max_traces(agent.update, n=1))
    for step in range(5):
        o = at_step(obs, step)
        slates, _ = act(jax.random.key(step), state, o, params)
        state = update(jax.random.key(step), state, o, slates, feedback, params)
    chex.clear_trace_counter()


@pytest.mark.parametrize("strategy", ["epsilon_greedy", "ucb"])
def test_item_cache_shows_the_same_slates_as_recomputing_every_step(strategy):
    """Issue 16 item 1: ψ of the catalogue kept between training rounds (and refreshed when
    items churn) changes no slate; with a stale cache (no refresh after a churn) they differ."""
    env, env_params = small_env(item_churn_rate=0.3, item_churn_every=3)
    runs = {}
    for cache in (True, False):
        config = neural.NeuralConfig(update_every=2, item_cache=cache, batch_size=32)
        agent, agent_params = make_agent("neural", env.spec, strategy, config)
        assert agent.item_cache is cache
        sim = loop.Simulation(env, agent, log_every=5, windows_per_chunk=1)
        carry, transitions = loop.rollout(sim, loop.SimParams(env_params, agent_params), 0, 3, 24)
        runs[cache] = (agent, carry, transitions)
    slates = {cache: np.asarray(run[2].slates) for cache, run in runs.items()}
    np.testing.assert_array_equal(slates[True], slates[False])
    features = np.asarray(runs[True][2].obs.item_features)
    assert not np.array_equal(features[0], features[-1])  # items did churn
    # The kept ψ is that of the last step's items under the last step's trained weights.
    agent, carry, transitions = runs[True]
    kept = agent.embed(carry.agent_state.network, transitions.obs.item_features[-1])
    np.testing.assert_array_equal(carry.agent_state.item_embeddings, kept)


def test_item_cache_is_off_where_there_is_nothing_to_keep():
    env, _ = small_env()
    for overrides in ({"network": "mlp"}, {"uncertainty": "dropout"}, {"item_cache": False}):
        agent, params = neural.make(neural.NeuralConfig(**overrides), env.spec)
        assert not agent.item_cache
        assert agent.init(jax.random.key(0), params).item_embeddings is None
