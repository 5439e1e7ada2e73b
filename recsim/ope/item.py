"""Item-level off-policy estimators: one logged action per round (Dudík et al. 2011; Wang et
al. 2017 for switch-DR).

Round i of the log: context x_i, action a_i drawn by the logging policy μ with propensity
μ_i = μ(a_i | x_i) > 0, reward r_i. The target policy π is given by its probabilities
π(a | x_i) of every action, and the direct-method reward model by q̂(x_i, a). With the
importance weight w_i = π(a_i | x_i) / μ_i, the per-round terms are

    DM         ψ_i = Σ_a π(a|x_i) q̂(x_i, a)
    IPS        ψ_i = w_i r_i
    SNIPS      V̂ = Σ_i w_i r_i / Σ_i w_i
    DR         ψ_i = Σ_a π(a|x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i))
    switch-DR  ψ_i = Σ_a π(a|x_i) q̂(x_i, a) + 1{w_i ≤ τ} w_i (r_i − q̂(x_i, a_i))

IPS and DR are unbiased whenever μ > 0 wherever π > 0 (DR also when q̂ is wrong; DM only when
q̂ is right); SNIPS is consistent, with a bias of order 1/n; switch-DR trades the variance of
weights above τ for the bias of q̂ there (τ = ∞: DR; τ = 0: DM).

Shapes: n rounds, N actions. Each function returns an `Estimate`.
"""

import jax
import jax.numpy as jnp

from recsim.ope.estimate import Estimate, from_ratio, from_terms


def importance_weights(target_probability: jax.Array, logging_propensity: jax.Array) -> jax.Array:
    """w_i = π(a_i | x_i) / μ(a_i | x_i) [n]."""
    return target_probability / logging_propensity


def _direct(target: jax.Array, reward_model: jax.Array) -> jax.Array:
    """Σ_a π(a | x_i) q̂(x_i, a) [n], from π [n, N] and q̂ [n, N]."""
    return jnp.sum(target * reward_model, axis=1)


def _taken(values: jax.Array, actions: jax.Array) -> jax.Array:
    """values[i, a_i] [n] of values [n, N] and actions [n]."""
    return jnp.take_along_axis(values, actions[:, None], axis=1)[:, 0]


def dm_terms(target: jax.Array, reward_model: jax.Array) -> jax.Array:
    """ψ_i of the direct method [n]. target: π(a | x_i) [n, N]; reward_model: q̂(x_i, a)
    [n, N]."""
    return _direct(target, reward_model)


def dr_terms(
    actions: jax.Array,
    rewards: jax.Array,
    logging_propensity: jax.Array,
    target: jax.Array,
    reward_model: jax.Array,
    tau: float | jax.Array = jnp.inf,
) -> jax.Array:
    """ψ_i of switch-DR [n] (τ = ∞: DR); arguments as `switch_dr`."""
    weights = importance_weights(_taken(target, actions), logging_propensity)
    correction = weights * (rewards - _taken(reward_model, actions))
    return _direct(target, reward_model) + jnp.where(weights <= tau, correction, 0.0)


def dm(target: jax.Array, reward_model: jax.Array) -> Estimate:
    """Direct method. target: π(a | x_i) [n, N]; reward_model: q̂(x_i, a) [n, N]."""
    return from_terms(dm_terms(target, reward_model))


def ips(
    actions: jax.Array, rewards: jax.Array, logging_propensity: jax.Array, target: jax.Array
) -> Estimate:
    """Inverse propensity scoring. actions [n] int, rewards [n], logging_propensity μ_i [n],
    target π(a | x_i) [n, N]."""
    weights = importance_weights(_taken(target, actions), logging_propensity)
    return from_terms(weights * rewards)


def snips(
    actions: jax.Array, rewards: jax.Array, logging_propensity: jax.Array, target: jax.Array
) -> Estimate:
    """Self-normalised IPS (arguments as `ips`); se by the delta method."""
    weights = importance_weights(_taken(target, actions), logging_propensity)
    return from_ratio(weights * rewards, weights)


def dr(
    actions: jax.Array,
    rewards: jax.Array,
    logging_propensity: jax.Array,
    target: jax.Array,
    reward_model: jax.Array,
) -> Estimate:
    """Doubly robust (arguments as `ips`, and q̂(x_i, a) [n, N])."""
    return from_terms(dr_terms(actions, rewards, logging_propensity, target, reward_model))


def switch_dr(
    actions: jax.Array,
    rewards: jax.Array,
    logging_propensity: jax.Array,
    target: jax.Array,
    reward_model: jax.Array,
    tau: float | jax.Array,
) -> Estimate:
    """Switch doubly robust: the DR correction only where w_i ≤ τ (arguments as `dr`)."""
    return from_terms(dr_terms(actions, rewards, logging_propensity, target, reward_model, tau))
