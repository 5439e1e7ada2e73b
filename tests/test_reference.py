"""The NumPy reference computes what the JAX version computes (so the benchmark is fair)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agents import neural, replay
from experiments import reference_numpy as ref
from tests.conftest import make_agent, small_env


def setup():
    env, env_params = small_env()
    agent, params = make_agent(
        "neural",
        env.spec,
        "epsilon_greedy",
        neural.NeuralConfig(hidden=[16, 8], embedding=8, n_heads=3, batch_size=32),
    )
    state = env.init(jax.random.key(0), env_params)
    obs = env.observe(jax.random.key(1), state, env_params).replace(step=jnp.int32(0))
    return env, env_params, state, obs, agent, params


def test_click_probabilities_match():
    env, env_params, state, obs, _, _ = setup()
    world = ref.LatentWorld(env, state, env_params)
    ids = np.asarray(obs.user_ids)
    truth = env.truth(state, obs, env_params)
    np.testing.assert_allclose(world.attraction(ids), truth.attraction, rtol=1e-5, atol=1e-7)
    slates = np.tile(np.arange(env.spec.slate_size), (len(ids), 1))
    shown = np.take_along_axis(np.asarray(truth.attraction), slates, axis=1)
    np.testing.assert_allclose(world.attraction(ids, slates), shown, rtol=1e-5, atol=1e-7)
    _, features = world.observe(np.random.default_rng(0))
    assert features.shape == obs.user_features.shape


def test_scores_first_gradient_and_adamw_step_match():
    env, _, _, obs, agent, params = setup()
    agent_state = agent.init(jax.random.key(2), params)
    users, k = obs.user_ids.shape[0], env.spec.slate_size
    slates = jax.random.permutation(jax.random.key(3), env.spec.n_items)[:k]
    slates = jnp.tile(slates, (users, 1))
    clicks = jax.random.bernoulli(jax.random.key(4), 0.3, slates.shape).astype(jnp.int32)
    buffer = replay.add(jax.random.key(5), agent_state.replay, obs.user_features, slates, clicks,
                        True)  # fmt: skip
    batch = replay.sample(jax.random.key(6), buffer, agent.batch_size)
    items = np.asarray(obs.item_features)
    numpy_batch = {name: np.asarray(getattr(batch, name)) for name in
                   ("user_features", "items", "positions", "clicks", "weights")}  # fmt: skip

    grads = jax.grad(agent.loss, argnums=1)(
        jax.random.key(7), agent_state.network, batch, obs.item_features
    )
    optimizer = agent.optimizer(params)
    updates, _ = optimizer.update(grads, agent_state.optimizer, agent_state.network)
    stepped = optax.apply_updates(agent_state.network, updates)

    probs = agent.predict(jax.random.key(8), agent_state.network, obs)
    for m in range(agent.n_heads):
        member = ref.member_params(agent_state.network, m)
        scores = ref.sigmoid(ref.catalogue_logits(member, np.asarray(obs.user_features), items))
        np.testing.assert_allclose(scores, probs[m], rtol=1e-4, atol=1e-6)
        _, numpy_grads = ref.loss_and_grads(
            member, numpy_batch, items, numpy_batch["weights"][:, m]
        )
        expected = ref.member_params(grads, m)
        for got, want in zip(ref._leaves(numpy_grads), ref._leaves(expected), strict=True):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6)
        adamw = ref.AdamW(ref._leaves(member), float(params.learning_rate),
                          float(params.weight_decay))  # fmt: skip
        adamw.step(ref._leaves(member), ref._leaves(numpy_grads))
        after = ref.member_params(stepped, m)
        for got, want in zip(ref._leaves(member), ref._leaves(after), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_reference_simulation_runs_and_learns_something():
    env, env_params, state, obs, agent, params = setup()
    agent_state = agent.init(jax.random.key(2), params)
    world = ref.LatentWorld(env, state, env_params)
    numpy_agent = ref.NeuralEpsilonGreedy(agent, agent_state.network, params, 0.1,
                                          np.asarray(state.item_features))  # fmt: skip
    before = [leaf.copy() for leaf in ref._leaves(numpy_agent.members[0])]
    clicks = ref.simulate(world, numpy_agent, steps=12)
    assert clicks > 0
    after = ref._leaves(numpy_agent.members[0])
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
