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
import numpy as np

from recsim.ope.estimate import Estimate, from_terms


def slate_ips_terms(
    clicks: jax.Array, logging_slate_probability: jax.Array, target_slate_probability: jax.Array
) -> jax.Array:
    """ψ_i of slate IPS [n]. clicks [n, k]; μ(s_i | x_i) and π(s_i | x_i) [n]."""
    weights = target_slate_probability / logging_slate_probability
    return weights * jnp.sum(clicks, axis=1)


def iips_terms(clicks: jax.Array, logging_marginal: jax.Array, target_marginal: jax.Array):
    """ψ_i of independent IPS [n]. clicks, μ(s_ij at j | x_i), π(s_ij at j | x_i): [n, k]."""
    return jnp.sum(target_marginal / logging_marginal * clicks, axis=1)


def rips_terms(clicks: jax.Array, logging_prefix: jax.Array, target_prefix: jax.Array):
    """ψ_i of reward-interaction IPS [n]. clicks, μ(s_i,1:j | x_i), π(s_i,1:j | x_i): [n, k]
    (the probability that the policy's slate starts with the logged top j)."""
    return jnp.sum(target_prefix / logging_prefix * clicks, axis=1)


def slate_ips(
    clicks: jax.Array, logging_slate_probability: jax.Array, target_slate_probability: jax.Array
) -> Estimate:
    """Standard slate IPS (arguments as `slate_ips_terms`)."""
    return from_terms(slate_ips_terms(clicks, logging_slate_probability, target_slate_probability))


def iips(clicks: jax.Array, logging_marginal: jax.Array, target_marginal: jax.Array) -> Estimate:
    """Independent IPS (arguments as `iips_terms`)."""
    return from_terms(iips_terms(clicks, logging_marginal, target_marginal))


def rips(clicks: jax.Array, logging_prefix: jax.Array, target_prefix: jax.Array) -> Estimate:
    """Reward-interaction IPS (arguments as `rips_terms`)."""
    return from_terms(rips_terms(clicks, logging_prefix, target_prefix))


def at_slots(marginals: jax.Array, slates: jax.Array) -> jax.Array:
    """P(s_ij at j | x_i) [n, k]: the marginals [n, k, N] of the logged items at their
    positions."""
    return jnp.take_along_axis(marginals, slates[..., None], axis=2)[..., 0]


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


def epsilon_greedy_gamma(n_items: int, k: int, epsilon: float) -> np.ndarray:
    """Γ [kN, kN] (float64) of the ε-greedy logger (`agents.exploration.epsilon_greedy`, N ≥ 2k)
    whose greedy slate is items 0..k−1 in slot order: slot j keeps item j with probability
    1 − ε, else shows one of the N − k outside items (the exploring slots distinct, uniformly):

        P(a at j)             = (1 − ε)·1{a = j} + ε·1{a ≥ k} / (N − k)
        P(a at j, a' at j')   = (1 − ε)²                    a = j, a' = j'
          (j ≠ j')              (1 − ε) ε / (N − k)         a = j, a' ≥ k  (and mirrored)
                                ε² / ((N − k)(N − k − 1))   a, a' ≥ k, a ≠ a'
                                0                           otherwise.

    Any other greedy slate is this one with the items relabelled (`greedy_relabelling`), so one
    pseudo-inverse serves every round."""
    outside = n_items - k
    keep = np.zeros((k, n_items))
    keep[np.arange(k), np.arange(k)] = 1.0
    out = np.zeros(n_items)
    out[k:] = 1.0
    marginal = (1 - epsilon) * keep + epsilon * out / outside  # [k, N]
    both_outside = np.outer(out, out) - np.diag(out)  # a, a' ≥ k, a ≠ a'
    gamma = np.zeros((k, n_items, k, n_items))
    for j in range(k):
        for j2 in range(k):
            if j == j2:
                gamma[j, :, j, :] = np.diag(marginal[j])
                continue
            gamma[j, :, j2, :] = (
                (1 - epsilon) ** 2 * np.outer(keep[j], keep[j2])
                + (1 - epsilon) * epsilon / outside * np.outer(keep[j], out)
                + (1 - epsilon) * epsilon / outside * np.outer(out, keep[j2])
                + epsilon**2 / (outside * (outside - 1)) * both_outside
            )
    return gamma.reshape(k * n_items, k * n_items)


def stable_pinv(gamma: np.ndarray, relative_cutoff: float = 1e-10) -> np.ndarray:
    """Γ⁺ of a symmetric PSD Γ (float64) from its eigendecomposition, dropping eigenvalues below
    `relative_cutoff` × the largest. Γ of a slate logger is singular (each position holds one
    item), and LAPACK leaves its zero eigenvalues at ~1e-14 rather than 0: NumPy's default
    cutoff (≈ 1e-13 relative) keeps some, giving entries of 1e14 that wreck the weights in
    float32 (seen: mean weight 18 for the logger itself, whose true weights average 1)."""
    values, vectors = np.linalg.eigh(gamma)
    keep = values > relative_cutoff * values.max()
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def greedy_relabelling(greedy: jax.Array, n_items: int) -> jax.Array:
    """σ [U, N]: the greedy item of slot j becomes item j, the other items k, k+1, … in id
    order (a permutation of 0..N−1 per row, for greedy slates [U, k])."""
    users, k = greedy.shape
    rows = jnp.arange(users)[:, None]
    is_greedy = jnp.zeros((users, n_items), jnp.int32).at[rows, greedy].set(1)
    below = jnp.cumsum(is_greedy, axis=1) - is_greedy  # greedy items with a smaller id
    slot = jnp.zeros((users, n_items), jnp.int32).at[rows, greedy].set(jnp.arange(k))
    return jnp.where(is_greedy > 0, slot, k + jnp.arange(n_items) - below)


def relabelled_pseudo_inverse_weights(
    slates: jax.Array, gamma_pinv: jax.Array, target_marginals: jax.Array, relabel: jax.Array
) -> jax.Array:
    """w_i = 1_{σ_i(s_i)}ᵀ Γ₀⁺ θ_π(x_i)∘σ_i⁻¹ [n] for a logger whose Γ_μ(x_i) is Γ₀ with the
    items relabelled by σ_i (`greedy_relabelling`): permuting items permutes Γ's rows and
    columns alike, and so its pseudo-inverse. gamma_pinv Γ₀⁺ [kN, kN]; target_marginals
    [n, k, N]; relabel σ [n, N]."""
    n, k, n_items = target_marginals.shape
    inverse = jnp.argsort(relabel, axis=1)  # σ⁻¹: relabelled id -> item
    theta = jnp.take_along_axis(target_marginals, inverse[:, None, :], axis=2)
    index = slot_indicator_index(jnp.take_along_axis(relabel, slates, axis=1), n_items)
    rows = gamma_pinv[index]  # [n, k, kN]: the logged (position, item) rows of Γ₀⁺
    return jnp.einsum("nkc,nc->n", rows, theta.reshape(n, k * n_items))


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
