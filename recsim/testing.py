"""Contract checks anyone can reuse: `check_env` and `check_agent` (DESIGN.md §2).

In the style of jumanji's smoke checks: given an implementation of `recsim.core.contracts`,
they run it a few steps and raise `AssertionError` naming the first broken promise:

- shapes and dtypes of every pytree that crosses the boundary, distinct valid slate items;
- purity: the same key gives the same output, twice;
- everything runs under `jax.jit`, and one step is traced once for every key and step;
- `jax.vmap` over keys works (so simulations batch);
- no NaN or infinity anywhere;
- for environments, the oracle is optimal under the env's own response model: no random
  slate and no reordering of the best slate has more expected clicks than `best_value`.

`check_agent` needs no environment: it builds observations of the right shapes from the
`EnvSpec` (and a `Truth` for agents that use it). The test suite runs both on every registered
env configuration, agent and strategy; a new one is checked without writing a test.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from recsim.core.contracts import Agent, Env
from recsim.core.types import ActInfo, EnvSpec, Feedback, Observation, Truth

PyTree = Any


def check_env(env: Env, params: PyTree, seed: int = 0, steps: int = 2) -> None:
    """Runs `env` for `steps` steps with random slates and checks the contract."""
    spec = env.spec
    key = jax.random.key(seed)
    state = _checked_init(env.init, key, params)
    traces = [0]

    def one_step(key, state, slates):
        traces[0] += 1
        k_obs, k_step = jax.random.split(key)
        obs = env.observe(k_obs, state, params)
        truth = env.truth(state, obs, params)
        new_state, feedback = env.step(k_step, state, obs, slates, params)
        expected = env.expected_clicks(truth, slates, params)
        best = env.expected_clicks(truth, truth.best_slates, params)
        return (
            new_state,
            obs,
            truth,
            feedback,
            expected,
            best,
            _rival_values(env, truth, params, key),
        )

    jitted = jax.jit(one_step)
    random_slates = jax.jit(_random_slates, static_argnums=1)
    for t in range(steps):
        key, k_step, k_slate = jax.random.split(key, 3)
        slates = random_slates(k_slate, spec)
        compiled = jitted(k_step, state, slates)
        _same(compiled, jitted(k_step, state, slates), f"step {t} is not pure")
        new_state, obs, truth, feedback, expected, best, rivals = compiled
        _finite(compiled, f"step {t}")
        _check_observation(obs, spec, f"step {t}")
        _check_truth(truth, spec, f"step {t}")
        _check_feedback(feedback, spec, f"step {t}")
        _check_shape(expected, (spec.users_per_step, spec.slate_size), "expected_clicks")
        _check_range(expected, 0.0, 1.0, "expected_clicks")
        np.testing.assert_allclose(
            np.asarray(best).sum(axis=1), np.asarray(truth.best_value), rtol=1e-5, atol=1e-6,
            err_msg="best_value is not the expected clicks of best_slates",
        )  # fmt: skip
        if np.any(np.asarray(rivals) > np.asarray(truth.best_value) * (1 + 1e-5) + 1e-6):
            raise AssertionError(f"step {t}: a slate beats best_value under the env's own model")
        _same(jax.tree.structure(new_state), jax.tree.structure(state), "step changed the state")
        state = new_state
    if traces[0] != 1:  # one trace for every key and step
        raise AssertionError(f"one step was traced {traces[0]} times, not once")
    population = env.population_attraction(state, params)
    _check_shape(population, (spec.n_items,), "population_attraction")
    _check_range(population, 0.0, 1.0, "population_attraction")
    homogeneity = env.user_homogeneity(state, params)
    _check_shape(homogeneity, (), "user_homogeneity")
    _check_range(homogeneity, -1.0, 1.0 + 1e-6, "user_homogeneity")
    batched = jax.jit(jax.vmap(env.init, in_axes=(0, None)))(jax.random.split(key, 2), params)
    for leaf, single in zip(jax.tree.leaves(batched), jax.tree.leaves(state), strict=True):
        _check_shape(leaf, (2, *np.shape(single)), "vmap(init) state leaf")


def check_agent(agent: Agent, params: PyTree, spec: EnvSpec, seed: int = 0, steps: int = 2) -> None:
    """Runs `agent` for `steps` steps on synthetic observations and clicks of `spec`'s shapes
    and checks the contract."""
    key = jax.random.key(seed)
    state = _checked_init(agent.init, key, params)
    traces = [0]

    def act_and_update(key, state, obs, truth, clicks):
        traces[0] += 1
        k_act, k_update = jax.random.split(key)
        extra = (truth,) if agent.uses_truth else ()
        slates, info = agent.act(k_act, state, obs, params, *extra)
        feedback = Feedback(clicks=clicks)
        return slates, info, agent.update(k_update, state, obs, slates, feedback, params)

    jitted = jax.jit(act_and_update)
    synthetic = jax.jit(_synthetic_step, static_argnums=1)
    for t in range(steps):
        key, k_step, k_data = jax.random.split(key, 3)
        obs, truth, clicks = synthetic(k_data, spec, t)
        compiled = jitted(k_step, state, obs, truth, clicks)
        _same(compiled, jitted(k_step, state, obs, truth, clicks), f"step {t} is not pure")
        slates, info, new_state = compiled
        _finite(compiled, f"step {t}")
        _check_slates(slates, spec, f"step {t}: slates")
        _check_info(info, spec, agent.predicts_clicks, f"step {t}")
        if jax.tree.structure(new_state) != jax.tree.structure(state):
            raise AssertionError(f"step {t}: update changed the state's structure")
        for new, old in zip(jax.tree.leaves(new_state), jax.tree.leaves(state), strict=True):
            if np.shape(new) != np.shape(old) or jnp.result_type(new) != jnp.result_type(old):
                raise AssertionError(f"step {t}: update changed a state leaf's shape or dtype")
        state = new_state
    if traces[0] != 1:  # one trace for every key and step
        raise AssertionError(f"one step was traced {traces[0]} times, not once")
    keys = jax.random.split(key, 2)
    batched = jax.jit(jax.vmap(agent.init, in_axes=(0, None)))(keys, params)
    obs, truth, _ = synthetic(key, spec, steps)
    extra = (truth,) if agent.uses_truth else ()
    act_all = jax.jit(jax.vmap(lambda k, s: agent.act(k, s, obs, params, *extra)))
    slates, _ = act_all(keys, batched)
    _check_shape(slates, (2, spec.users_per_step, spec.slate_size), "vmap(act) slates")


def _checked_init(init, key: jax.Array, params: PyTree) -> PyTree:
    """The initial state, checked pure (the same key twice) and finite."""
    init = jax.jit(init)
    state = init(key, params)
    _same(state, init(key, params), "init is not pure (same key, different state)")
    _finite(state, "init state")
    return state


def _synthetic_step(key: jax.Array, spec: EnvSpec, t: int) -> tuple[Observation, Truth, Any]:
    """Observations, a truth and clicks of `spec`'s shapes (random, distinct users)."""
    k_ids, k_uf, k_g, k_if, k_a, k_c = jax.random.split(key, 6)
    users, n, k = spec.users_per_step, spec.n_items, spec.slate_size
    obs = Observation(
        user_ids=jax.random.permutation(k_ids, spec.n_users)[:users].astype(jnp.int32),
        user_features=jax.random.normal(k_uf, (users, spec.user_feature_dim)),
        user_groups=jax.random.randint(k_g, (users,), 0, spec.n_groups, jnp.int32),
        item_features=jax.random.normal(k_if, (n, spec.item_feature_dim)),
        item_age=jnp.full((n,), t, jnp.int32),
        step=jnp.int32(t),
    )
    attraction = jax.random.uniform(k_a, (users, n), maxval=0.5)
    best_value, best_slates = jax.lax.top_k(attraction, k)
    truth = Truth(
        attraction=attraction,
        best_slates=best_slates.astype(jnp.int32),
        best_value=jnp.sum(best_value, axis=1),
        population_attraction=jnp.mean(attraction, axis=0),
    )
    clicks = jax.random.bernoulli(k_c, 0.3, (users, k)).astype(jnp.int32)
    return obs, truth, clicks


def _random_slates(key: jax.Array, spec: EnvSpec) -> jax.Array:
    """[U, k] distinct uniformly random items per user."""
    keys = jax.random.split(key, spec.users_per_step)
    draw = jax.vmap(lambda k: jax.random.permutation(k, spec.n_items)[: spec.slate_size])
    return draw(keys).astype(jnp.int32)


def _rival_values(env: Env, truth: Truth, params: PyTree, key: jax.Array) -> jax.Array:
    """[C, U] expected clicks of rival slates: the best slate reversed and rotated, and 16
    random slates. None may beat `best_value` (the oracle is optimal under the env's model)."""
    randoms = jax.vmap(lambda k: _random_slates(k, env.spec))(jax.random.split(key, 16))
    reordered = jnp.stack([truth.best_slates[:, ::-1], jnp.roll(truth.best_slates, 1, axis=1)])
    candidates = jnp.concatenate([reordered, randoms])  # [C, U, k]
    return jax.vmap(lambda s: jnp.sum(env.expected_clicks(truth, s, params), axis=1))(candidates)


def _check_observation(obs: Observation, spec: EnvSpec, where: str) -> None:
    users = spec.users_per_step
    _check_shape(obs.user_ids, (users,), f"{where}: user_ids", jnp.int32)
    _check_range(obs.user_ids, 0, spec.n_users - 1, f"{where}: user_ids")
    if len(np.unique(np.asarray(obs.user_ids))) != users:
        raise AssertionError(f"{where}: user_ids are not distinct within the step")
    _check_shape(obs.user_features, (users, spec.user_feature_dim), f"{where}: user_features")
    _check_shape(obs.user_groups, (users,), f"{where}: user_groups", jnp.int32)
    _check_range(obs.user_groups, 0, spec.n_groups - 1, f"{where}: user_groups")
    _check_shape(
        obs.item_features, (spec.n_items, spec.item_feature_dim), f"{where}: item_features"
    )
    if obs.item_age is not None:
        _check_shape(obs.item_age, (spec.n_items,), f"{where}: item_age", jnp.int32)


def _check_truth(truth: Truth, spec: EnvSpec, where: str) -> None:
    _check_shape(truth.attraction, (spec.users_per_step, spec.n_items), f"{where}: attraction")
    _check_range(truth.attraction, 0.0, 1.0, f"{where}: attraction")
    _check_slates(truth.best_slates, spec, f"{where}: best_slates")
    _check_shape(truth.best_value, (spec.users_per_step,), f"{where}: best_value")


def _check_feedback(feedback: Feedback, spec: EnvSpec, where: str) -> None:
    shape = (spec.users_per_step, spec.slate_size)
    _check_shape(feedback.clicks, shape, f"{where}: clicks", jnp.int32)
    _check_range(feedback.clicks, 0, 1, f"{where}: clicks")
    if feedback.left is not None:
        _check_shape(feedback.left, (spec.users_per_step,), f"{where}: left", jnp.bool_)


def _check_info(info: ActInfo, spec: EnvSpec, predicts_clicks: bool, where: str) -> None:
    full = (spec.users_per_step, spec.n_items)
    _check_shape(info.scores, full, f"{where}: info.scores", jnp.float32)
    _check_shape(info.uncertainty, full, f"{where}: info.uncertainty", jnp.float32)
    _check_range(info.uncertainty, 0.0, np.inf, f"{where}: info.uncertainty")
    shape = (spec.users_per_step, spec.slate_size)
    _check_shape(info.explored, shape, f"{where}: info.explored", jnp.bool_)
    if predicts_clicks:
        _check_range(info.scores, 0.0, 1.0, f"{where}: predicted click probabilities")


def _check_slates(slates: jax.Array, spec: EnvSpec, what: str) -> None:
    _check_shape(slates, (spec.users_per_step, spec.slate_size), what, jnp.int32)
    _check_range(slates, 0, spec.n_items - 1, what)
    ordered = np.sort(np.asarray(slates), axis=-1)
    if np.any(ordered[..., 1:] == ordered[..., :-1]):
        raise AssertionError(f"{what}: a slate repeats an item")


def _check_shape(value, shape: tuple, what: str, dtype=None) -> None:
    if np.shape(value) != tuple(shape):
        raise AssertionError(f"{what}: shape {np.shape(value)}, expected {tuple(shape)}")
    if dtype is not None and jnp.result_type(value) != jnp.dtype(dtype):
        raise AssertionError(f"{what}: dtype {jnp.result_type(value)}, expected {dtype}")


def _check_range(value, low: float, high: float, what: str) -> None:
    array = np.asarray(value)
    if array.size and (array.min() < low or array.max() > high):
        found = f"[{array.min()}, {array.max()}]"
        raise AssertionError(f"{what}: values in {found}, not in [{low}, {high}]")


def _finite(tree: PyTree, what: str) -> None:
    for leaf in jax.tree.leaves(tree):
        array = np.asarray(leaf)
        if jnp.issubdtype(array.dtype, jnp.inexact) and not np.all(np.isfinite(array)):
            raise AssertionError(f"{what}: NaN or infinity")


def _leaves(tree: PyTree) -> list[np.ndarray]:
    """Leaves as arrays (typed PRNG keys as their raw bits)."""
    out = []
    for leaf in jax.tree.leaves(tree):
        if jnp.issubdtype(jnp.result_type(leaf), jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf))
    return out


def _same(a: PyTree, b: PyTree, message: str) -> None:
    if isinstance(a, jax.tree_util.PyTreeDef):
        if a != b:
            raise AssertionError(message)
        return
    left, right = _leaves(a), _leaves(b)
    if len(left) != len(right) or any(
        x.shape != y.shape or not np.array_equal(x, y, equal_nan=True)
        for x, y in zip(left, right, strict=True)
    ):
        raise AssertionError(message)
