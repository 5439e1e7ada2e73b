"""Metric definitions (DESIGN.md §5) as plain functions on arrays.

Which metrics are logged, and how each is formed, is `recsim.core.metric_table`. These are
used inside the compiled loop (`recsim.core.tracking`) and work on their own on NumPy or
JAX arrays. All logarithms are base 2; position discounts are `1 / log2(j + 2)` for the
0-based position j.
"""

import jax
import jax.numpy as jnp


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


def self_information(reference: jax.Array, item_ids: jax.Array) -> jax.Array:
    """Self-information in bits of items under a reference popularity.

    `−log2(r_i / Σ_j r_j)`: the surprise of item i if items were drawn in proportion to the
    reference r (e.g. the population's attraction); log2(n) for n equal entries.

    Args:
      reference: [n] positive reference popularity of every item.
      item_ids: [...] int item ids.

    Returns:
      [...] bits.
    """
    reference = jnp.asarray(reference, dtype=jnp.float32)
    return -jnp.log2(reference[item_ids] / jnp.sum(reference))


def shown_in(items: jax.Array, slates: jax.Array) -> jax.Array:
    """Whether each of `items` [..., m] is somewhere in the slate [..., k]: -> [..., m] bool."""
    return jnp.any(items[..., :, None] == slates[..., None, :], axis=-1)


def precision_at_k(gains_shown: jax.Array, gains_all: jax.Array) -> jax.Array:
    """Share of the shown items whose gain is at least the k-th largest gain of the catalogue.

    `(1/k) Σ_j [g_{s_j} ≥ g_(k)]`, g_(k) the k-th largest of `gains_all`: an item tied with
    the k-th best counts as relevant, so every optimal slate scores 1 whatever the tie order.

    Args:
      gains_shown: [..., k] gains (true attraction) of the shown items.
      gains_all: [..., N] gains of every item (N >= k).

    Returns:
      [...] precision in [0, 1].
    """
    k = jnp.shape(gains_shown)[-1]
    return precision_from_ideal(
        gains_shown, jax.lax.top_k(jnp.asarray(gains_all, jnp.float32), k)[0]
    )


def precision_from_ideal(gains_shown: jax.Array, ideal_gains: jax.Array) -> jax.Array:
    """`precision_at_k` given the top gains sorted descending ([..., k] and [..., >=1]); only
    the last of `ideal_gains` (the k-th best) is used."""
    gains_shown = jnp.asarray(gains_shown, dtype=jnp.float32)
    return jnp.mean((gains_shown >= ideal_gains[..., -1:]).astype(jnp.float32), axis=-1)


def average_ranks(values: jax.Array) -> jax.Array:
    """Ranks 0..n−1 along the last axis, ascending, tied entries sharing their mean rank.

    [..., n] -> [..., n] float32; e.g. [0.3, 0.1, 0.3] -> [1.5, 0, 1.5].

    The rank of x is (#{y < x} + #{y ≤ x} − 1) / 2, both counts found by binary search in the
    sorted row. The row is sorted as int32 keys with the floats' order (`sortable_keys`):
    XLA:CPU sorts those about 5× faster than float32, and a sort that carries the indices
    along (an argsort) is as slow as the float sort (measured at [32, 100,000]).
    """
    keys = sortable_keys(values)
    n = keys.shape[-1]
    flat = keys.reshape(-1, n)
    ordered = jax.lax.sort(flat, dimension=1)
    count = jax.vmap(jnp.searchsorted, in_axes=(0, 0, None))
    below, up_to = count(ordered, flat, "left"), count(ordered, flat, "right")
    return (0.5 * (below + up_to - 1).astype(jnp.float32)).reshape(keys.shape)


def sortable_keys(values: jax.Array) -> jax.Array:
    """int32 keys ordered as the float32 `values` (−0 equal to +0; NaN not allowed): the
    IEEE bits, with the magnitude bits of negative numbers flipped."""
    values = jnp.asarray(values, dtype=jnp.float32)
    bits = jax.lax.bitcast_convert_type(jnp.where(values == 0, 0.0, values), jnp.int32)
    return jnp.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


def spearman(predicted: jax.Array, truth: jax.Array) -> jax.Array:
    """Spearman rank correlation along the last axis: [..., n] x [..., n] -> [...].

    The Pearson correlation of the average ranks (`average_ranks`), in [−1, 1]; 0 when either
    side is constant (a model that ranks nothing has recovered nothing).
    """
    ranks_p, ranks_t = average_ranks(predicted), average_ranks(truth)
    centred_p = ranks_p - jnp.mean(ranks_p, axis=-1, keepdims=True)
    centred_t = ranks_t - jnp.mean(ranks_t, axis=-1, keepdims=True)
    norm = jnp.sqrt(jnp.sum(centred_p**2, axis=-1) * jnp.sum(centred_t**2, axis=-1))
    safe_norm = jnp.where(norm > 0, norm, 1.0)
    return jnp.where(norm > 0, jnp.sum(centred_p * centred_t, axis=-1) / safe_norm, 0.0)


def ranking_ndcg(predicted: jax.Array, gains: jax.Array, k: int) -> jax.Array:
    """NDCG@k of the ranking by `predicted` (descending, ties by lower index), with `gains`
    as relevance: `DCG(gains of the top-k by predicted) / DCG(top-k of gains, sorted)`.

    [..., n] x [..., n] -> [...]; 1 when the predicted top-k is the true top-k in order, 0
    when every gain is 0. With k = n it scores the full ranking.
    """
    gains = jnp.asarray(gains, dtype=jnp.float32)
    order = jax.lax.top_k(jnp.asarray(predicted, dtype=jnp.float32), k)[1]
    return ndcg_from_ideal(jnp.take_along_axis(gains, order, axis=-1), jax.lax.top_k(gains, k)[0])


def spread(values: jax.Array, valid: jax.Array) -> jax.Array:
    """max − min over the entries where `valid`; 0 when fewer than one entry is valid."""
    high = jnp.max(jnp.where(valid, values, -jnp.inf))
    low = jnp.min(jnp.where(valid, values, jnp.inf))
    return jnp.where(jnp.any(valid), high - low, 0.0)


def excess_gap(best: jax.Array, shortfall: jax.Array, valid: jax.Array) -> jax.Array:
    """Signed between-group gap beyond the oracle's: [G] x [G] x [G] bool -> [].

    With `best` the oracle's per-group value and `shortfall` the agent's per-group loss against
    it (agent = best − shortfall), h the valid group the oracle serves best and l the one it
    serves worst: `(agent_h − agent_l) − (best_h − best_l) = shortfall_l − shortfall_h`.
    Positive: the agent widens the gap the groups' tastes already make; negative: it narrows
    it; 0 for the oracle and with fewer than two valid groups.
    """
    high = jnp.argmax(jnp.where(valid, best, -jnp.inf))
    low = jnp.argmin(jnp.where(valid, best, jnp.inf))
    return jnp.where(jnp.sum(valid) > 1, shortfall[low] - shortfall[high], 0.0)


def mean_pairwise_jaccard(sets: jax.Array) -> jax.Array:
    """Mean Jaccard similarity `|A ∩ B| / |A ∪ B|` over pairs of rows of a bit matrix.

    Args:
      sets: [P, N] bool, row p the set of items of member p.

    Returns:
      [] the mean over pairs p < q whose union is not empty; 0 when there is no such pair.
    """
    x = jnp.asarray(sets, dtype=jnp.float32)
    both = x @ x.T  # [P, P] |A ∩ B| (exact: integers below 2^24)
    size = jnp.diagonal(both)
    union = size[:, None] + size[None, :] - both
    pairs = jnp.triu(jnp.ones(both.shape, bool), k=1) & (union > 0)
    similarity = jnp.where(pairs, both / jnp.where(union > 0, union, 1.0), 0.0)
    count = jnp.sum(pairs)
    return jnp.where(count > 0, jnp.sum(similarity) / jnp.maximum(count, 1), 0.0)


def calibration_error(predicted: jax.Array, truth: jax.Array, bins: int = 10) -> jax.Array:
    """Expected calibration error of probability forecasts, pooled over every entry: [] .

    With p̂ the forecasts clipped to [0, 1], a the true probabilities, n entries and B `bins`
    equal-width bins of p̂ (bin b = [b/B, (b+1)/B), the last one closed at 1):

        ECE = Σ_b (n_b / n) · |mean_b(p̂) − mean_b(a)| = Σ_b |Σ_{e∈b} (p̂_e − a_e)| / n.

    0 for a calibrated forecast; errors of opposite sign cancel within a bin, not across bins.
    """
    p = jnp.clip(jnp.ravel(predicted).astype(jnp.float32), 0.0, 1.0)
    a = jnp.ravel(truth).astype(jnp.float32)
    bin_of = jnp.clip(jnp.floor(p * bins).astype(jnp.int32), 0, bins - 1)
    per_bin = jax.ops.segment_sum(p - a, bin_of, num_segments=bins)
    return jnp.sum(jnp.abs(per_bin)) / p.size


def interval_coverage(
    predicted: jax.Array, std: jax.Array, truth: jax.Array, width: float = 2.0
) -> jax.Array:
    """Share of entries whose truth lies within predicted ± width · std: [] (pooled)."""
    inside = jnp.abs(truth - predicted) <= width * std
    return jnp.mean(inside.astype(jnp.float32))


def pearson(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pearson correlation of all entries of `x` and `y`: []; 0 when either is constant."""
    x = jnp.ravel(x).astype(jnp.float32)
    y = jnp.ravel(y).astype(jnp.float32)
    cx, cy = x - jnp.mean(x), y - jnp.mean(y)
    norm = jnp.sqrt(jnp.sum(cx**2) * jnp.sum(cy**2))
    return jnp.where(norm > 0, jnp.sum(cx * cy) / jnp.where(norm > 0, norm, 1.0), 0.0)
