"""Metric definitions (DESIGN.md §5) as plain functions on arrays.

These are used inside the compiled loop (`recsim.tracking`) and work on their own on NumPy or
JAX arrays. All logarithms are base 2; position discounts are `1 / log2(j + 2)` for the
0-based position j.
"""

import jax
import jax.numpy as jnp

METRIC_NAMES = (
    "ctr",
    "expected_ctr",
    "regret",
    "cum_regret",
    "precision_at_k",
    "ndcg_at_k",
    "ild",
    "coverage",
    "novelty",
    "exposure_gini",
    "exposure_entropy",
    "group_ctr_gap",
    "group_regret_gap",
    "new_item_exposure",
    "new_item_recall",
    "churn_rate",
    "user_lifetime",
    "explore_fraction",
    "model_error",
)
"""Every metric column of `metrics.parquet`, in table order."""

MODEL_METRICS = ("model_error",)
"""Metrics that need the agent's predicted click probabilities (NaN for agents without any)."""

COUNT_NAMES = ("clicks", "impressions")
"""Integer columns logged beside the metrics (exact, for determinism checks)."""


def position_discount(k: int) -> jax.Array:
    """`1 / log2(j + 2)` for positions j = 0..k-1. Shape [k]."""
    return 1.0 / jnp.log2(jnp.arange(k, dtype=jnp.float32) + 2.0)


def gini(values: jax.Array) -> jax.Array:
    """Gini index of all entries of `values` (non-negative).

    `G = Σ_i (2i − n − 1) x_(i) / (n Σ_i x_i)` with x_(1) ≤ … ≤ x_(n) sorted, i = 1..n.
    0 when all entries are equal or all are zero; (n − 1)/n when one entry holds everything.
    """
    x = jnp.sort(jnp.ravel(jnp.asarray(values, dtype=jnp.float32)))
    n = x.shape[0]
    total = jnp.sum(x)
    rank_weight = 2.0 * jnp.arange(1, n + 1, dtype=jnp.float32) - n - 1.0
    safe_total = jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, jnp.sum(rank_weight * x) / (n * safe_total), 0.0)


def entropy_bits(values: jax.Array) -> jax.Array:
    """Entropy in bits of the shares `p_i = x_i / Σ x` of all entries (0 log 0 = 0).

    log2(n) for n equal entries; 0 for a single non-zero entry and for all-zero input.
    """
    x = jnp.ravel(jnp.asarray(values, dtype=jnp.float32))
    total = jnp.sum(x)
    p = x / jnp.where(total > 0, total, 1.0)
    safe_p = jnp.where(p > 0, p, 1.0)
    return -jnp.sum(jnp.where(p > 0, p * jnp.log2(safe_p), 0.0))


def intra_list_diversity(features: jax.Array) -> jax.Array:
    """Mean pairwise cosine distance `1 − cos(x_a, x_b)` over pairs a < b of the rows.

    Args:
      features: [..., k, F] feature vectors of the k items of a slate.

    Returns:
      [...] the slate's diversity; 0 for a one-item slate. A zero vector has cosine 0 to
      every other row (distance 1).
    """
    x = jnp.asarray(features, dtype=jnp.float32)
    k = x.shape[-2]
    if k < 2:
        return jnp.zeros(x.shape[:-2], jnp.float32)
    norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
    unit = x / jnp.where(norm > 0, norm, 1.0)
    cosine = jnp.einsum("...af,...bf->...ab", unit, unit)
    upper = jnp.triu(jnp.ones((k, k), bool), k=1)
    return jnp.sum(jnp.where(upper, 1.0 - cosine, 0.0), axis=(-2, -1)) / (k * (k - 1) / 2)


def dcg(gains: jax.Array) -> jax.Array:
    """Discounted cumulative gain `Σ_j g_j / log2(j + 2)` over the last axis [..., k] -> [...]."""
    gains = jnp.asarray(gains, dtype=jnp.float32)
    return jnp.sum(gains * position_discount(gains.shape[-1]), axis=-1)


def ndcg_from_ideal(gains_shown: jax.Array, ideal_gains: jax.Array) -> jax.Array:
    """NDCG given the ideal top-k gains sorted descending ([..., k] each); 0 if the ideal is 0."""
    ideal = dcg(ideal_gains)
    return jnp.where(ideal > 0, dcg(gains_shown) / jnp.where(ideal > 0, ideal, 1.0), 0.0)


def ndcg(gains_shown: jax.Array, gains_all: jax.Array, k: int) -> jax.Array:
    """NDCG@k of a ranking.

    Args:
      gains_shown: [..., >=k] gains of the shown items, in display order.
      gains_all: [..., N] gains of every candidate item (N >= k).
      k: cut-off.

    Returns:
      [...] `DCG(shown[:k]) / DCG(top-k of gains_all, sorted)`; 0 when the ideal DCG is 0.
    """
    ideal = jax.lax.top_k(jnp.asarray(gains_all, dtype=jnp.float32), k)[0]
    return ndcg_from_ideal(jnp.asarray(gains_shown)[..., :k], ideal)


def self_information(counts: jax.Array, item_ids: jax.Array) -> jax.Array:
    """Self-information in bits of items under smoothed click shares.

    `−log2((c_i + 1) / (C + n))` with c_i the clicks on item i so far, C all clicks and n the
    number of items (len(counts)); with no clicks at all every item has log2(n) bits.

    Args:
      counts: [n] clicks per item so far.
      item_ids: [...] int item ids.

    Returns:
      [...] bits.
    """
    counts = jnp.asarray(counts, dtype=jnp.float32)
    total = jnp.sum(counts) + counts.shape[0]
    return -jnp.log2((counts[item_ids] + 1.0) / total)


def shown_in(items: jax.Array, slates: jax.Array) -> jax.Array:
    """Whether each of `items` [..., m] is somewhere in the slate [..., k]: -> [..., m] bool."""
    return jnp.any(items[..., :, None] == slates[..., None, :], axis=-1)


def precision_at_k(slates: jax.Array, ideal_slates: jax.Array) -> jax.Array:
    """Share of the shown items that are in the ideal slate: [..., k] x [..., k] -> [...]."""
    return jnp.mean(shown_in(slates, ideal_slates).astype(jnp.float32), axis=-1)


def spread(values: jax.Array, valid: jax.Array) -> jax.Array:
    """max − min over the entries where `valid`; 0 when fewer than one entry is valid."""
    high = jnp.max(jnp.where(valid, values, -jnp.inf))
    low = jnp.min(jnp.where(valid, values, jnp.inf))
    return jnp.where(jnp.any(valid), high - low, 0.0)
