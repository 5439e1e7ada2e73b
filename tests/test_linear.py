"""LinUCB / LinTS: the ridge posterior against hand-computed and float64 solutions."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from agents import linear
from envs.latent import LatentConfig, make
from recsim.core import keys as keylib
from recsim.core.types import Feedback
from tests.conftest import at_step, make_agent, small_env


def build(exploration="ucb", env=None, **config):
    env, env_params = env or small_env()
    agent, params = make_agent("linucb", env.spec, exploration, linear.LinearConfig(**config))
    state = env.init(jax.random.key(0), env_params)
    return agent, params, env, env_params, state


def float64_ridge(precision, target, z, ridge_scale):
    """Textbook ridge posterior in float64: mean θᵀz and std v·sqrt(zᵀA⁻¹z), [U, N] each."""
    covariance = np.linalg.inv(precision)
    theta = np.einsum("nde,ne->nd", covariance, target)
    return z @ theta.T, ridge_scale * np.sqrt(np.einsum("ud,nde,ue->un", z, covariance, z))


def test_sherman_morrison_matches_the_direct_inverse():
    a = jax.random.normal(jax.random.key(0), (4, 4))
    precision = a @ a.T + 4 * jnp.eye(4)
    z = jax.random.normal(jax.random.key(1), (4,))
    updated = linear.sherman_morrison(jnp.linalg.inv(precision), z)
    np.testing.assert_allclose(updated, np.linalg.inv(precision + np.outer(z, z)), rtol=1e-4)


def test_two_sum_returns_the_rounding_error_exactly():
    high, low = linear.two_sum(jnp.float32(1.0), jnp.float32(2.0**-30))
    assert float(high) == 1.0 and float(low) == 2.0**-30  # 1 + 2⁻³⁰ rounds to 1 in float32
    high, low = linear.two_sum(jnp.float32(3.0), jnp.float32(0.5))
    assert float(high) == 3.5 and float(low) == 0.0


def test_two_sum_is_exact_for_pairs_of_every_magnitude_eagerly_and_compiled():
    """s = fl(a + b) and s + e = a + b exactly, for float32 pairs whose exponents differ by up
    to 25 in either order (their exact sum then needs at most 50 bits, so float64 holds it and
    the check is exact)."""
    rng = np.random.default_rng(0)
    magnitude = rng.uniform(1.0, 2.0, (2, 4000)) * 2.0 ** rng.integers(-12, 13, (2, 4000))
    a, b = (rng.choice([-1.0, 1.0], (2, 4000)) * magnitude).astype(np.float32)
    for two_sum in (linear.two_sum, jax.jit(linear.two_sum)):
        high, low = (np.asarray(x, np.float64) for x in two_sum(jnp.asarray(a), jnp.asarray(b)))
        np.testing.assert_array_equal(high, (a + b).astype(np.float64))
        np.testing.assert_array_equal(high + low, a.astype(np.float64) + b.astype(np.float64))
        assert np.count_nonzero(low) > 1000  # most of these sums do round


def test_newton_step_squares_the_residual_of_the_inverse():
    a = np.asarray(jax.random.normal(jax.random.key(0), (2, 5, 5)), np.float64)
    precision = a @ np.swapaxes(a, 1, 2) + 5 * np.eye(5)
    exact = np.linalg.inv(precision)
    rough = 1.001 * exact  # residual I − A X = −0.001 I
    state = linear.LinearState(
        precision=jnp.asarray(precision, jnp.float32),
        precision_low=jnp.zeros((2, 5, 5)),
        covariance=jnp.asarray(rough, jnp.float32),
        target=jnp.zeros((2, 5)),
        target_low=jnp.zeros((2, 5)),
        counts=jnp.ones(2, jnp.int32),
    )
    residual = lambda x: np.abs(np.eye(5) - precision @ np.asarray(x, np.float64)).max()  # noqa: E731
    assert residual(rough) > 1e-4
    polished = np.asarray(linear.newton_step(state))
    assert residual(polished) < 1e-5
    # symmetrised exactly: X(2I − AX) alone is not symmetric in floating point
    np.testing.assert_array_equal(polished, np.swapaxes(polished, 1, 2))


def test_contexts_are_user_features_and_position_one_hot_without_position_0():
    z = linear.contexts(jnp.array([[2.0, 3.0]]), 3)
    np.testing.assert_array_equal(z[0], [[2, 3, 0, 0], [2, 3, 1, 0], [2, 3, 0, 1]])


def test_latent_user_features_end_with_the_group_one_hot_that_carries_the_intercept():
    """The reason position 0 has no column: x_u's last G entries already sum to 1."""
    agent, params, env, env_params, world = build()
    obs = env.observe(jax.random.key(1), world, env_params)
    groups = np.asarray(obs.user_features[:, -env.spec.n_groups :])
    np.testing.assert_array_equal(groups, np.eye(env.spec.n_groups)[np.asarray(obs.user_groups)])


def test_updates_match_the_hand_computed_ridge_solution():
    agent, params, env, env_params, world = build(ridge=2.0)
    state = agent.init(jax.random.key(0), params)
    update = jax.jit(agent.update)
    k, d, n = agent.spec.slate_size, agent.dim, agent.spec.n_items
    precision, target = np.tile(2.0 * np.eye(d), (n, 1, 1)), np.zeros((n, d))
    counts = np.zeros(n, int)  # observations of each item: one per user and step shown
    for step in range(12):
        obs = at_step(env.observe(jax.random.key(step), world, env_params), step)
        slates = jax.random.permutation(jax.random.key(100 + step), n)[:k]
        slates = jnp.tile(slates, (obs.user_ids.shape[0], 1))  # every user: the same items
        clicks = jax.random.bernoulli(jax.random.key(200 + step), 0.4, slates.shape).astype(int)
        state = update(None, state, obs, slates, Feedback(clicks=clicks), params)
        z = np.asarray(linear.contexts(obs.user_features, k))
        for u in range(slates.shape[0]):
            for j in range(k):
                i = int(slates[u, j])
                precision[i] += np.outer(z[u, j], z[u, j])
                target[i] += float(clicks[u, j]) * z[u, j]
                counts[i] += 1
    # float32 rounds each product z zᵀ (by 6e-8 relative); the sums add no more error.
    np.testing.assert_allclose(state.precision + state.precision_low, precision, rtol=1e-6,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(state.target + state.target_low, target, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(state.covariance, np.linalg.inv(precision), rtol=1e-4, atol=1e-6)
    obs = at_step(env.observe(jax.random.key(99), world, env_params), 12)
    agent_mean, agent_std = agent.posterior(state, obs, params)
    z0 = np.asarray(linear.contexts(obs.user_features, k))[:, 0]
    mean, std = float64_ridge(precision, target, z0, 0.5)
    assert 0 < np.sum(state.counts > 0) < n  # seen and unseen items
    np.testing.assert_array_equal(state.counts, counts)
    assert state.counts.dtype == jnp.int32  # exact past 2^24 observations of an item
    np.testing.assert_allclose(agent_mean, mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(agent_std, std, rtol=1e-5)


def test_posterior_matches_float64_ridge_over_2000_steps_of_the_default_world():
    """The agent plays LinUCB on the default world; every 250 steps its posterior (the scores
    before the tie-break offsets, tested below) is compared with a float64 textbook ridge
    regression on the same (context, item, click) stream.

    Error measures: mean — max |Δ| / max |mean| over users × items (the scores are compared
    across items to rank them, so the error that matters is relative to their scale; near-0
    means would make an entrywise ratio meaningless); std — max entrywise |Δ| / std (std is
    bounded away from 0: at least v·‖z‖ / sqrt(λ_max(A))). Both reach ~1e-5 (κ(A) ≤ ~2·10⁴);
    float32 Sherman–Morrison with a refresh every 500 steps was off by up to 1e-2 on the mean.
    """
    env, env_params = make(LatentConfig())
    agent, params, *_ = build(env=(env, env_params))
    sim_keys = keylib.simulation_keys(jax.random.key(0), 0)
    k, n, chunk = env.spec.slate_size, env.spec.n_items, 250

    def observe(world, t):
        return env.observe(keylib.at_step(sim_keys.users, t), world, env_params).replace(step=t)

    def one_step(carry, t):
        world, state = carry
        obs = observe(world, t)
        act_key, update_key = jax.random.split(keylib.at_step(sim_keys.agent, t))
        slates, _ = agent.act(act_key, state, obs, params)
        world, feedback = env.step(keylib.at_step(sim_keys.clicks, t), world, obs, slates,
                                   env_params)  # fmt: skip
        state = agent.update(update_key, state, obs, slates, feedback, params)
        return (world, state), (obs.user_features, slates, feedback.clicks)

    run_chunk = jax.jit(
        lambda carry, t0: jax.lax.scan(one_step, carry, t0 + jnp.arange(chunk, dtype=jnp.int32))
    )
    carry = (env.init(sim_keys.world, env_params), agent.init(sim_keys.agent_init, params))
    precision, target = np.tile(np.eye(agent.dim), (n, 1, 1)), np.zeros((n, agent.dim))
    for start in range(0, 2000, chunk):
        carry, (features, slates, clicks) = run_chunk(carry, jnp.int32(start))
        z = np.asarray(linear.contexts(features.reshape(-1, features.shape[-1]), k), np.float64)
        z, items = z.reshape(-1, agent.dim), np.asarray(slates).reshape(-1)
        clicks = np.asarray(clicks, np.float64).reshape(-1)
        for i in np.unique(items):
            rows = items == i
            precision[i] += z[rows].T @ z[rows]
            target[i] += z[rows].T @ clicks[rows]
        obs = observe(carry[0], jnp.int32(start + chunk))
        agent_mean, agent_std = agent.posterior(carry[1], obs, params)
        z0 = np.asarray(linear.contexts(obs.user_features, k), np.float64)[:, 0]
        mean, std = float64_ridge(precision, target, z0, 0.5)
        mean_error = np.abs(agent_mean - mean).max() / np.abs(mean).max()
        std_error = np.max(np.abs(agent_std - std) / std)
        assert mean_error < 1e-4 and std_error < 1e-4, (start + chunk, mean_error, std_error)


def test_ties_are_broken_by_random_offsets_the_same_way_in_every_program():
    """At the default sizes, per-item arithmetic gave the (equal) prior std of items 128..199
    one ulp more than that of items 0..127, for some users, in some compiled programs: so
    `loop.run` and `loop.rollout` ranked the unseen items differently (issue 10, item 2)."""
    env, env_params = make(LatentConfig())
    agent, params, *_ = build("greedy", env=(env, env_params))
    world = env.init(jax.random.key(0), env_params)
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 0)
    state = agent.init(jax.random.key(0), params)
    n = agent.spec.n_items

    def both(key, obs):
        return agent.posterior(state, obs, params), agent.scores(key, state, obs, params)

    one_sim = jax.tree.map(lambda x: x[None], obs)  # as `loop.run` sees it: vmapped
    batched = jax.jit(jax.vmap(both))(jax.random.key(1)[None], one_sim)
    for (mean, std), scores in (jax.jit(both)(jax.random.key(1), obs),
                                jax.tree.map(lambda x: x[0], batched)):  # fmt: skip
        assert np.all(mean == 0) and np.all(std == std[:, :1])  # the prior, bit for bit
        offsets = np.asarray(scores.mean - mean) / linear.TIE_BREAK_STEP
        np.testing.assert_array_equal(np.sort(offsets, axis=1), np.tile(np.arange(n), (32, 1)))
        np.testing.assert_array_equal(scores.std - std, scores.mean - mean)
    slates, _ = jax.jit(agent.act)(jax.random.key(2), state, obs, params)
    assert len(np.unique(np.asarray(slates))) > 80  # random unseen items, not ids 0..k-1


def test_act_scores_a_recycled_id_by_the_prior_before_update_forgets_it():
    agent, params, env, env_params, world = build("greedy")
    state = agent.init(jax.random.key(0), params)
    groups = slice(agent.spec.user_feature_dim - agent.spec.n_groups, agent.spec.user_feature_dim)
    state = state.replace(
        target=state.target.at[:, groups].set(5.0), counts=jnp.ones_like(state.counts)
    )  # every item: θ̂ = b, a mean of 5 through the group one-hot
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 3)
    obs = obs.replace(item_age=obs.item_age.at[7].set(0))  # id 7 got a new item
    _, info = agent.act(jax.random.key(1), state, obs, params)
    prior_std = 0.5 * np.linalg.norm(obs.user_features, axis=1)
    tie_breaks = agent.spec.n_items * linear.TIE_BREAK_STEP  # offsets stay below N·δ
    np.testing.assert_allclose(info.uncertainty[:, 7], prior_std, rtol=1e-6, atol=tie_breaks)
    assert np.all(info.scores[:, 7] < 1e-3) and np.all(info.scores[:, 6] > 0.5)
    # the mean: θ̂ = A⁻¹b = b / λ (λ = 1), so 5 for every known item and the prior's 0 for id 7,
    # each plus its tie-break offset; the reported click probability is it clipped to [0, 1]
    expected = np.where(np.arange(agent.spec.n_items) == 7, 0.0, 5.0)
    mean = np.asarray(info.policy_scores.mean)
    np.testing.assert_allclose(mean, np.broadcast_to(expected, mean.shape), rtol=0, atol=tie_breaks)
    np.testing.assert_array_equal(info.scores, np.clip(mean, 0.0, 1.0))


def test_thompson_sample_has_the_posterior_spread():
    agent, params, env, env_params, world = build("thompson")
    state = agent.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(0), world, env_params)
    draws = jax.vmap(lambda key: agent.scores(key, state, obs, params).sample)(
        jax.random.split(jax.random.key(1), 4000)
    )
    scores = agent.scores(jax.random.key(2), state, obs, params)
    n = draws.shape[0]
    # Sampling error of the mean of n draws is std / sqrt(n): allow 5 of those, per entry
    # (the draws carry the random tie-break offsets of their own keys, below N·δ).
    tie_breaks = agent.spec.n_items * linear.TIE_BREAK_STEP
    assert np.all(np.abs(draws.mean(0) - scores.mean) < 5 * scores.std / np.sqrt(n) + tie_breaks)
    np.testing.assert_allclose(draws.std(0), scores.std, rtol=0.1)
    # One ε per user and item: the standardised draws of two items, and of two users, are
    # uncorrelated (|r| below 4 of its standard errors 1/√n; 1 if ε were shared).
    noise = np.asarray((draws - scores.mean) / scores.std)
    r = np.corrcoef([noise[:, 0, 0], noise[:, 0, 1], noise[:, 1, 0]])
    assert np.all(np.abs(r[np.triu_indices(3, 1)]) < 4 / np.sqrt(n)), r


def test_linucb_learns_a_clear_preference():
    """Item 0 is always clicked and item 1 never: after feedback, 0 ranks above 1."""
    agent, params, env, env_params, world = build()
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


def test_update_restarts_a_recycled_id_from_the_prior_and_without_ages_nothing_restarts():
    """Id 7 reports age 0 at step 3: `update` resets its A, A⁻¹, b and count to the prior
    (it was not shown this step, so nothing is added); the other unshown ids keep theirs. An
    env that reports no ages recycles nothing: `act` and `update` keep id 7's data."""
    agent, params, env, env_params, world = build("greedy", ridge=2.0)
    n, d = agent.spec.n_items, agent.dim
    state = agent.init(jax.random.key(0), params)
    groups = slice(agent.spec.user_feature_dim - agent.spec.n_groups, agent.spec.user_feature_dim)
    state = state.replace(
        target=state.target.at[:, groups].set(5.0),
        target_low=jnp.full((n, d), 1e-9),
        precision_low=jnp.full((n, d, d), 1e-9),
        counts=jnp.full((n,), 4, jnp.int32),
    )  # fmt: skip  (every item: θ̂ ≈ b / λ, a mean of 2.5 through the group one-hot)
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 3)
    recycled = obs.replace(item_age=obs.item_age.at[7].set(0))
    slates = jnp.tile(jnp.array([0, 1, 2]), (obs.user_ids.shape[0], 1))
    feedback = Feedback(clicks=jnp.ones(slates.shape, jnp.int32))
    updated = agent.update(None, state, recycled, slates, feedback, params)
    np.testing.assert_array_equal(updated.precision[7], 2.0 * np.eye(d))
    np.testing.assert_array_equal(updated.covariance[7], 0.5 * np.eye(d))
    np.testing.assert_array_equal(updated.precision_low[7], 0.0)
    np.testing.assert_array_equal(updated.target[7], 0.0)
    np.testing.assert_array_equal(updated.target_low[7], 0.0)
    assert int(updated.counts[7]) == 0 and int(updated.counts[8]) == 4
    np.testing.assert_array_equal(updated.target[8], state.target[8])

    no_ages = recycled.replace(item_age=None)
    kept = agent.update(None, state, no_ages, slates, feedback, params)
    np.testing.assert_array_equal(kept.target[7], state.target[7])
    assert int(kept.counts[7]) == 4
    _, info = agent.act(jax.random.key(1), state, no_ages, params)
    np.testing.assert_allclose(info.policy_scores.mean[:, 7], 2.5, atol=1e-3)  # not the prior's 0


def dot_precisions(jaxpr) -> list:
    """The `precision` of every dot_general in a jaxpr, its sub-jaxprs (scan, jit) included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn.params["precision"])
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    found += dot_precisions(inner)
    return found


def test_every_product_of_the_posterior_runs_at_full_float32_precision():
    """On GPU / TPU a default-precision product may round its inputs to TF32 / bf16 (10 or 7
    bits), far above the 1e-5 the posterior keeps; CPU is exact either way, so the programs
    themselves are checked: every dot_general of `act` and `update` asks for HIGHEST."""
    agent, params, env, env_params, world = build("ucb")
    state = agent.init(jax.random.key(0), params)
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 1)
    slates, _ = agent.act(jax.random.key(1), state, obs, params)
    feedback = Feedback(clicks=jnp.zeros(slates.shape, jnp.int32))
    highest = (jax.lax.Precision.HIGHEST, jax.lax.Precision.HIGHEST)
    for program in (
        jax.make_jaxpr(agent.act)(jax.random.key(1), state, obs, params),
        jax.make_jaxpr(agent.update)(jax.random.key(2), state, obs, slates, feedback, params),
    ):
        precisions = dot_precisions(program.jaxpr)
        assert precisions and all(p == highest for p in precisions), precisions


def test_a_random_strategy_gets_its_own_key_through_act():
    """`act` passes the exploration key on: `random` on the linear posterior shows slates of
    distinct items that differ between keys (and between users)."""
    agent, params, env, env_params, world = build("random")
    state = agent.init(jax.random.key(0), params)
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 1)
    first, _ = agent.act(jax.random.key(1), state, obs, params)
    second, _ = agent.act(jax.random.key(2), state, obs, params)
    assert all(len(set(slate)) == len(slate) for slate in np.asarray(first).tolist())
    assert np.mean(np.asarray(first) != np.asarray(second)) > 0.9
    assert len({tuple(slate) for slate in np.asarray(first).tolist()}) == first.shape[0]


def test_the_agent_from_make_alone_acts_greedily_on_its_posterior_mean():
    """`linear.make` composes no strategy yet: its agent shows each user the k items of
    highest mean (with the tie-break offsets), before `agents.with_exploration` adds one."""
    env, env_params = small_env()
    agent, params = linear.make(linear.LinearConfig(), env.spec)
    world = env.init(jax.random.key(0), env_params)
    obs = at_step(env.observe(jax.random.key(0), world, env_params), 0)
    slates, info = agent.act(jax.random.key(1), agent.init(None, params), obs, params)
    mean = np.asarray(info.policy_scores.mean)
    top = np.take_along_axis(mean, np.asarray(slates), axis=1)
    assert np.all(top.min(axis=1) >= np.sort(mean, axis=1)[:, -agent.spec.slate_size])
