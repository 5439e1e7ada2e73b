"""Slate-level off-policy estimators: a ranked slate s_i = (s_i1, …, s_ik) of distinct items
per round, clicks c_ij per position, reward r_i = Σ_j c_ij (clicks per slate).

Each estimator reweights the clicks by a ratio of target (π) to logging (μ) probabilities of
a different event, and is unbiased under a different click model:

    slate IPS  ψ_i = π(s_i | x_i) / μ(s_i | x_i) · r_i                   any click model
    IIPS       ψ_i = Σ_j π(s_ij at j | x_i) / μ(s_ij at j | x_i) · c_ij      position-based (the
               click at j depends only on the item at j: pbm) — Li et al. (2018)
    RIPS       ψ_i = Σ_j π(s_i,1:j | x_i) / μ(s_i,1:j | x_i) · c_ij          cascade (the click at j
               depends on the items at 1..j) — McInerney et al. (2020)
    PI         ψ_i = 1_{s_i}ᵀ Γ_μ(x_i)⁺ θ_π(x_i) · r_i                       additive rewards,
               E[r | x, s] = Σ_j φ(x, j, s_j) (pbm) — Swaminathan et al. (2017)

where 1_s ∈ {0,1}^{kN} marks the (position, item) pairs of s, θ_π(x) = E_π[1_s | x] holds the
target's marginals π(a at j | x), Γ_μ(x) = E_μ[1_s 1_sᵀ | x] the logging policy's pairwise
marginals, and ⁺ is the Moore–Penrose pseudo-inverse. The variance falls from slate IPS (one
weight of up to N!/(N−k)!) through RIPS to IIPS and PI (weights of order N·k).

Shapes: n rounds, k positions, N items. Each estimator returns an `Estimate`.
"""

import jax
import jax.numpy as jnp

from recsim.ope.estimate import Estimate, from_terms


def slate_ips(
    clicks: jax.Array, logging_slate_probability: jax.Array, target_slate_probability: jax.Array
) -> Estimate:
    """Standard slate IPS. clicks [n, k]; μ(s_i | x_i) and π(s_i | x_i) [n]."""
    weights = target_slate_probability / logging_slate_probability
    return from_terms(weights * jnp.sum(clicks, axis=1))


def iips(clicks: jax.Array, logging_marginal: jax.Array, target_marginal: jax.Array) -> Estimate:
    """Independent IPS. clicks, μ(s_ij at j | x_i) and π(s_ij at j | x_i): [n, k]."""
    return from_terms(jnp.sum(target_marginal / logging_marginal * clicks, axis=1))


def rips(clicks: jax.Array, logging_prefix: jax.Array, target_prefix: jax.Array) -> Estimate:
    """Reward-interaction IPS. clicks, μ(s_i,1:j | x_i) and π(s_i,1:j | x_i): [n, k] (the
    probability that the policy's slate starts with the logged top j)."""
    return from_terms(jnp.sum(target_prefix / logging_prefix * clicks, axis=1))


def slot_indicator_index(slates: jax.Array, n_items: int) -> jax.Array:
    """Positions of the ones of 1_{s_i} in {0,1}^{kN}: j·N + s_ij [n, k]."""
    k = slates.shape[1]
    return jnp.arange(k) * n_items + slates


def uniform_gamma(n_items: int, k: int) -> jax.Array:
    """Γ [kN, kN] of the uniformly random slate of k distinct items out of N:
    P(a at j, a' at j') = 1/N if (j, a) = (j', a'); 1/(N(N−1)) if j ≠ j' and a ≠ a'; else 0."""
    position = jnp.repeat(jnp.arange(k), n_items)
    item = jnp.tile(jnp.arange(n_items), k)
    same_position = position[:, None] == position[None, :]
    same_item = item[:, None] == item[None, :]
    together = ~same_position & ~same_item
    pair = 1.0 / (n_items * (n_items - 1)) if n_items > 1 else 0.0
    return jnp.where(same_position & same_item, 1.0 / n_items, jnp.where(together, pair, 0.0))


def pseudo_inverse_weights(
    slates: jax.Array, gamma: jax.Array, target_marginals: jax.Array
) -> jax.Array:
    """w_i = 1_{s_i}ᵀ Γ⁺ θ_π(x_i) [n].

    Args:
      slates: [n, k] logged slates.
      gamma: Γ_μ [kN, kN], shared by every round (a logging policy that ignores the context),
        or [n, kN, kN].
      target_marginals: θ_π(x_i) [n, k, N]: π(a at j | x_i).
    """
    n, k, n_items = target_marginals.shape
    theta = target_marginals.reshape(n, k * n_items)
    if gamma.ndim == 2:
        solved = theta @ jnp.linalg.pinv(gamma, hermitian=True)  # Γ⁺ is symmetric
    else:
        solved = jnp.einsum("nab,nb->na", jnp.linalg.pinv(gamma, hermitian=True), theta)
    index = slot_indicator_index(slates, n_items)
    return jnp.sum(jnp.take_along_axis(solved, index, axis=1), axis=1)


def pseudo_inverse(
    slates: jax.Array, clicks: jax.Array, gamma: jax.Array, target_marginals: jax.Array
) -> Estimate:
    """The pseudo-inverse estimator (arguments as `pseudo_inverse_weights`; clicks [n, k])."""
    weights = pseudo_inverse_weights(slates, gamma, target_marginals)
    return from_terms(weights * jnp.sum(clicks, axis=1))
