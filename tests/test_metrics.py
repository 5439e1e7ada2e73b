"""Tests of `recsim.core.metrics` (hand values, properties) and `recsim.core.tracking`."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose
from scipy import stats

from recsim.core import metric_table, metrics, tracking
from recsim.core.types import ActInfo, Feedback, Observation, Transition, Truth

RTOL = 1e-6
D1 = 1.0 / math.log2(3.0)  # discount of position 1 (0-based): 1 / log2(1 + 2) ≈ 0.63093
D3 = 1.0 / math.log2(5.0)  # discount of position 3: 1 / log2(3 + 2) ≈ 0.43068


def close(actual, expected, rtol=RTOL, atol=0.0):
    assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------------
# position_discount / dcg
# --------------------------------------------------------------------------------------------


def test_position_discount_values():
    # 1 / log2(j + 2) for j = 0, 1, 2, 3: 1/log2(2) = 1, 1/log2(3), 1/log2(4) = 0.5, 1/log2(5).
    d = metrics.position_discount(4)
    assert d.shape == (4,)
    close(d, [1.0, D1, 0.5, D3])


def test_dcg_hand_computed():
    # [3, 2, 1]: 3 * 1 + 2 / log2(3) + 1 / log2(4) = 3 + 2 * D1 + 0.5 ≈ 4.76186.
    close(metrics.dcg(jnp.array([3.0, 2.0, 1.0])), 3.0 + 2.0 * D1 + 0.5)
    # A single position has discount 1.
    close(metrics.dcg(jnp.array([7.0])), 7.0)


def test_dcg_batch_shape():
    gains = jnp.array([[[3.0, 2.0, 1.0], [0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0], [0.0, 4.0, 0.0]]])
    out = metrics.dcg(gains)  # [2, 2, 3] -> [2, 2]
    assert out.shape == (2, 2)
    close(out, [[3.0 + 2.0 * D1 + 0.5, 0.5], [1.0, 4.0 * D1]])


# --------------------------------------------------------------------------------------------
# gini
# --------------------------------------------------------------------------------------------


def test_gini_one_to_four():
    # Sorted x = [1, 2, 3, 4], n = 4, Σx = 10, weights 2i - n - 1 = [-3, -1, 1, 3]:
    # Σ w x = -3 - 2 + 3 + 12 = 10, G = 10 / (4 * 10) = 0.25.
    close(metrics.gini(jnp.array([1.0, 2.0, 3.0, 4.0])), 0.25)
    # Order of the input does not matter (it sorts).
    close(metrics.gini(jnp.array([4.0, 1.0, 3.0, 2.0])), 0.25)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10])
def test_gini_one_hot(n):
    # One entry holds everything: sorted [0, ..., 0, c], weight of the last is n - 1,
    # G = (n - 1) c / (n c) = (n - 1) / n.
    x = np.zeros(n, np.float32)
    x[n // 2] = 3.5
    close(metrics.gini(x), (n - 1) / n, atol=1e-7)


def test_gini_equal_and_zero():
    close(metrics.gini(jnp.full((7,), 2.5)), 0.0, atol=1e-7)
    close(metrics.gini(jnp.zeros((7,))), 0.0, atol=0.0)
    # All-zero input must not produce NaN.
    assert np.isfinite(float(metrics.gini(jnp.zeros((3,)))))


def test_gini_ravels_2d():
    # All entries of a matrix count: same as the flat [1, 2, 3, 4].
    close(metrics.gini(jnp.array([[1.0, 2.0], [3.0, 4.0]])), 0.25)


def test_gini_two_values():
    # [1, 3]: weights [-1, 1], Σ w x = 2, G = 2 / (2 * 4) = 0.25.
    close(metrics.gini(jnp.array([3.0, 1.0])), 0.25)


# --------------------------------------------------------------------------------------------
# entropy_bits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 4, 5, 16])
def test_entropy_equal_values(n):
    close(metrics.entropy_bits(jnp.full((n,), 0.7)), math.log2(n), atol=1e-6)


def test_entropy_degenerate():
    # One non-zero entry: p = [0, 1, 0], H = -1 * log2(1) = 0.
    close(metrics.entropy_bits(jnp.array([0.0, 5.0, 0.0])), 0.0, atol=1e-7)
    # All zeros: defined as 0 (no NaN).
    out = metrics.entropy_bits(jnp.zeros((4,)))
    assert np.isfinite(float(out))
    close(out, 0.0, atol=0.0)


def test_entropy_hand_computed():
    # [1, 1, 2]: p = [1/4, 1/4, 1/2], H = 2 * (1/4 * 2) + 1/2 * 1 = 1.5 bits.
    close(metrics.entropy_bits(jnp.array([1.0, 1.0, 2.0])), 1.5)
    # [1, 3]: p = [1/4, 3/4], H = 1/4 * 2 + 3/4 * log2(4/3).
    close(metrics.entropy_bits(jnp.array([1.0, 3.0])), 0.5 + 0.75 * math.log2(4.0 / 3.0))


# --------------------------------------------------------------------------------------------
# intra_list_diversity
# --------------------------------------------------------------------------------------------


def test_ild_single_row_is_zero():
    out = metrics.intra_list_diversity(jnp.array([[1.0, 2.0, 3.0]]))
    assert out.shape == ()
    close(out, 0.0, atol=0.0)


def test_ild_pairs():
    # Orthogonal: cos = 0, distance 1.
    close(metrics.intra_list_diversity(jnp.array([[1.0, 0.0], [0.0, 3.0]])), 1.0)
    # Identical (up to scale): cos = 1, distance 0.
    close(metrics.intra_list_diversity(jnp.array([[1.0, 2.0], [2.0, 4.0]])), 0.0, atol=1e-6)
    # Opposite: cos = -1, distance 2.
    close(metrics.intra_list_diversity(jnp.array([[1.0, 2.0], [-3.0, -6.0]])), 2.0)


def test_ild_three_rows_hand_computed():
    # Rows a = [1, 0], b = [0, 1], c = [1, 1]:
    # d(a, b) = 1 - 0 = 1, d(a, c) = 1 - 1/√2, d(b, c) = 1 - 1/√2.
    # Mean over the 3 pairs: (3 - 2/√2) / 3 = 1 - √2 / 3 ≈ 0.52860.
    out = metrics.intra_list_diversity(jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    close(out, 1.0 - math.sqrt(2.0) / 3.0)
    # Cosines do not depend on length: the same rows shrunk to a tenth (norms below 1).
    short = metrics.intra_list_diversity(jnp.array([[0.1, 0.0], [0.0, 0.1], [0.1, 0.1]]))
    close(short, 1.0 - math.sqrt(2.0) / 3.0, rtol=1e-6)


def test_ild_zero_vector_is_distance_one():
    # A zero vector has cosine 0 to every other row (documented): distance 1.
    close(metrics.intra_list_diversity(jnp.array([[0.0, 0.0], [1.0, 2.0]])), 1.0)


def test_ild_batch_shape():
    slate_a = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]  # 1 - √2/3
    slate_b = [[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]]  # pairs: 2, 0, 2 -> 4/3
    slate_c = [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]  # 0
    slate_d = [[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]  # pairs: 1, 1, 2 -> 4/3
    x = jnp.array([[slate_a, slate_b], [slate_c, slate_d]])  # [2, 2, 3, 2]
    out = metrics.intra_list_diversity(x)
    assert out.shape == (2, 2)
    close(out, [[1.0 - math.sqrt(2.0) / 3.0, 4.0 / 3.0], [0.0, 4.0 / 3.0]], atol=1e-6)
    # One-item slates in a batch: zeros of the batch shape.
    single = metrics.intra_list_diversity(jnp.ones((3, 5, 1, 4)))
    assert single.shape == (3, 5)
    close(single, np.zeros((3, 5)), atol=0.0)


# --------------------------------------------------------------------------------------------
# ndcg / ndcg_from_ideal
# --------------------------------------------------------------------------------------------


def test_ndcg_ideal_order_is_one():
    gains = jnp.array([3.0, 2.0, 1.0, 0.0])
    close(metrics.ndcg(gains, gains, 4), 1.0)
    close(metrics.ndcg(gains, gains, 2), 1.0)


def test_ndcg_reversed_order():
    # Shown [1, 2, 3]: DCG = 1 + 2 D1 + 3/2; ideal [3, 2, 1]: DCG = 3 + 2 D1 + 1/2.
    # ratio = (2.5 + 2 D1) / (3.5 + 2 D1) ≈ 3.76186 / 4.76186 ≈ 0.78999.
    gains = jnp.array([1.0, 2.0, 3.0])
    close(metrics.ndcg(gains, gains, 3), (2.5 + 2.0 * D1) / (3.5 + 2.0 * D1))


def test_ndcg_subset_and_cutoff():
    # Catalogue gains [0, 3, 1, 2]; shown [1, 2, 0] cut at k = 2 -> [1, 2]:
    # DCG = 1 + 2 D1; ideal top-2 = [3, 2]: DCG = 3 + 2 D1.
    gains_all = jnp.array([0.0, 3.0, 1.0, 2.0])
    shown = jnp.array([1.0, 2.0, 0.0])
    close(metrics.ndcg(shown, gains_all, 2), (1.0 + 2.0 * D1) / (3.0 + 2.0 * D1))


def test_ndcg_all_zero_gains_is_zero():
    out = metrics.ndcg(jnp.zeros((3,)), jnp.zeros((5,)), 3)
    assert np.isfinite(float(out))
    close(out, 0.0, atol=0.0)


def test_ndcg_batch():
    # Row 0 ideal (1), row 1 reversed ([1, 2] of [2, 1]): (1 + 2 D1) / (2 + D1).
    shown = jnp.array([[2.0, 1.0], [1.0, 2.0]])
    gains_all = jnp.array([[1.0, 2.0, 0.0], [2.0, 0.0, 1.0]])
    out = metrics.ndcg(shown, gains_all, 2)
    assert out.shape == (2,)
    close(out, [1.0, (1.0 + 2.0 * D1) / (2.0 + D1)])


def test_ndcg_from_ideal():
    # Shown [0, 1] vs ideal [1, 0]: D1 / 1.
    close(metrics.ndcg_from_ideal(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])), D1)
    # Zero ideal -> 0, not NaN.
    out = metrics.ndcg_from_ideal(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
    assert out.shape == (2,)
    close(out, [0.0, 0.0], atol=0.0)


# --------------------------------------------------------------------------------------------
# self_information
# --------------------------------------------------------------------------------------------


def test_self_information_of_a_uniform_reference():
    # Equal reference popularity: every item has share 1/n, i.e. log2(n) bits.
    n = 8
    out = metrics.self_information(jnp.full((n,), 0.3), jnp.arange(n))
    close(out, np.full(n, 3.0), rtol=1e-6)


def test_self_information_hand_computed():
    # reference [3, 1, 2, 6]: total 12; shares 1/4, 1/12, 1/6, 1/2.
    reference = jnp.array([3.0, 1.0, 2.0, 6.0])
    ids = jnp.array([[0, 1], [2, 3], [1, 1]])
    out = metrics.self_information(reference, ids)
    assert out.shape == (3, 2)
    expected = [[2.0, math.log2(12.0)], [math.log2(6.0), 1.0], [math.log2(12.0)] * 2]
    close(out, expected, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# precision_at_k
# --------------------------------------------------------------------------------------------


def test_precision_at_k():
    gains = jnp.array([0.9, 0.1, 0.5, 0.7, 0.3])  # top-3: items 0, 3, 2 (k-th best 0.5)
    close(metrics.precision_at_k(gains[jnp.array([2, 0, 3])], gains), 1.0)  # any order
    close(metrics.precision_at_k(gains[jnp.array([0, 1, 4])], gains), 1.0 / 3.0)
    close(metrics.precision_at_k(gains[jnp.array([1, 4])], gains), 0.0, atol=0.0)
    # Batch [2, 2] with k = 2: row 0 top-2 gains {0.9, 0.7}; row 1 (reversed) also, so
    # showing gains [0.3, 0.7] there scores 1/2.
    batch_gains = jnp.stack([gains, gains[::-1]])
    shown = jnp.array([[0.9, 0.7], [0.3, 0.7]])
    out = metrics.precision_at_k(shown, batch_gains)
    assert out.shape == (2,)
    close(out, [1.0, 0.5])


def test_precision_at_k_counts_items_tied_with_the_kth_best():
    """Issue 10 item 7: with ties at the k-th place an optimal slate scores 1, not 0.5."""
    gains = jnp.array([0.2, 0.8, 0.5, 0.5, 0.1])  # top-2: item 1, then 2 or 3 (tied)
    close(metrics.precision_at_k(gains[jnp.array([1, 3])], gains), 1.0)
    close(metrics.precision_at_k(gains[jnp.array([1, 2])], gains), 1.0)
    close(metrics.precision_at_k(gains[jnp.array([3, 0])], gains), 0.5)


# --------------------------------------------------------------------------------------------
# preference recovery: average_ranks, spearman, ranking_ndcg
# --------------------------------------------------------------------------------------------


def test_average_ranks_share_ties():
    close(metrics.average_ranks(jnp.array([0.3, 0.1, 0.3])), [1.5, 0.0, 1.5])
    close(metrics.average_ranks(jnp.array([[2.0, 2.0, 2.0, 1.0]])), [[2.0, 2.0, 2.0, 0.0]])


@pytest.mark.parametrize("seed", range(4))
def test_average_ranks_equal_scipy_rankdata_exactly(seed):
    """Signs, ±0 (equal), ties, large magnitudes: the int32-key sort keeps the floats' order."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(0, 3, (5, 300)), 1).astype(np.float32)  # many ties
    values[0, :4] = [0.0, -0.0, -0.0, 0.0]
    values[1, :2] = [3e38, -3e38]  # extremes (subnormals: XLA:CPU flushes them to 0)
    expected = stats.rankdata(values, method="average", axis=-1) - 1
    np.testing.assert_array_equal(np.asarray(metrics.average_ranks(jnp.asarray(values))), expected)


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_scipy_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random((6, 40))
    predicted = np.round(truth + rng.normal(0, 0.3, truth.shape), 1)  # rounding makes ties
    expected = [stats.spearmanr(p, t).statistic for p, t in zip(predicted, truth, strict=True)]
    close(metrics.spearman(jnp.asarray(predicted), jnp.asarray(truth)), expected, rtol=1e-4)


def test_spearman_is_zero_for_a_constant_prediction():
    close(metrics.spearman(jnp.zeros(5), jnp.arange(5.0)), 0.0, atol=0.0)


def test_spearman_of_two_items_is_plus_or_minus_one():
    """Two items: the ranks are in order or reversed (as scipy says); their centred sums of
    squares are 1/2 each, the smallest any non-constant row has."""
    close(metrics.spearman(jnp.array([0.1, 0.2]), jnp.array([1.0, 3.0])), 1.0)
    close(metrics.spearman(jnp.array([0.2, 0.1]), jnp.array([1.0, 3.0])), -1.0)


def test_ranking_ndcg_perfect_reversed_and_hand_computed():
    gains = jnp.array([0.1, 0.4, 0.2])
    close(metrics.ranking_ndcg(gains * 7.0 - 3.0, gains, 3), 1.0)  # any increasing transform
    # Reversed: order 0, 2, 1 -> gains [0.1, 0.2, 0.4]; ideal [0.4, 0.2, 0.1].
    reversed_ = (0.1 + 0.2 * D1 + 0.4 / 2.0) / (0.4 + 0.2 * D1 + 0.1 / 2.0)
    close(metrics.ranking_ndcg(-gains, gains, 3), reversed_, rtol=1e-5)
    close(metrics.ranking_ndcg(gains, jnp.zeros(3), 3), 0.0, atol=0.0)
    # Cut at k = 2: the reversed top-2 is items 0, 2 -> [0.1, 0.2] against [0.4, 0.2].
    close(metrics.ranking_ndcg(-gains, gains, 2), (0.1 + 0.2 * D1) / (0.4 + 0.2 * D1), rtol=1e-5)
    # Ties in the prediction go to the lower index: items 0 and 2 tie, 0 is taken.
    close(metrics.ranking_ndcg(jnp.array([1.0, 0.0, 1.0]), gains, 1), 0.1 / 0.4, rtol=1e-6)


def test_rank_metrics_and_mae_measure_different_things():
    """Issue 10 item 4: a perfect ranking with badly scaled probabilities has rank metrics 1
    and a large MAE; well-scaled probabilities in a scrambled order have a small MAE and rank
    metrics near 0."""
    rng = np.random.default_rng(0)
    attraction = jnp.asarray(rng.uniform(0.1, 0.3, (64, 100)), jnp.float32)
    scaled = 3.0 * attraction  # right order, probabilities three times too high
    scrambled = jnp.asarray(rng.permuted(np.asarray(attraction), axis=1))  # right scale
    mae = lambda p: float(jnp.mean(jnp.abs(p - attraction)))  # noqa: E731
    assert float(jnp.mean(metrics.spearman(scaled, attraction))) == pytest.approx(1.0)
    assert float(jnp.mean(metrics.ranking_ndcg(scaled, attraction, 5))) == pytest.approx(1.0)
    assert mae(scaled) > 0.35
    assert mae(scrambled) < 0.1
    assert abs(float(jnp.mean(metrics.spearman(scrambled, attraction)))) < 0.05
    assert float(jnp.mean(metrics.ranking_ndcg(scrambled, attraction, 5))) < 0.8


# --------------------------------------------------------------------------------------------
# excess_gap, mean_pairwise_jaccard
# --------------------------------------------------------------------------------------------


def test_excess_gap_hand_computed():
    best = jnp.array([0.5, 0.7, 0.6])  # oracle serves group 1 best, group 0 worst
    shortfall = jnp.array([0.2, 0.05, 0.1])
    valid = jnp.array([True, True, True])
    # Agent: [0.3, 0.65, 0.5]; gap of groups 1 vs 0: 0.35 against the oracle's 0.2 -> 0.15.
    close(metrics.excess_gap(best, shortfall, valid), 0.15, rtol=1e-6)
    # The agent narrows the gap when the hard group loses less: agent [0.45, 0.5, 0.5],
    # gap 0.05 against 0.2 -> −0.15.
    close(metrics.excess_gap(best, jnp.array([0.05, 0.2, 0.1]), valid), -0.15, rtol=1e-5)
    # Group 1 without visits: groups 2 (best) and 0 (worst) -> 0.2 − 0.1.
    close(metrics.excess_gap(best, shortfall, jnp.array([True, False, True])), 0.1, rtol=1e-6)
    close(metrics.excess_gap(best, shortfall, jnp.array([False, True, False])), 0.0, atol=0)


def test_mean_pairwise_jaccard_hand_computed():
    sets = jnp.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]], bool)
    # Pairs with a non-empty union: (0,1) 1/3, (0,3) 1, (1,3) 1/3, and (0,2), (1,2), (2,3)
    # with an empty set: 0. Mean (1/3 + 1 + 1/3) / 6.
    close(metrics.mean_pairwise_jaccard(sets), (5.0 / 3.0) / 6.0, rtol=1e-6)
    close(metrics.mean_pairwise_jaccard(jnp.zeros((3, 4), bool)), 0.0, atol=0)
    # One pair is a mean over one: its own similarity, |{1}| / |{0, 1, 2}|.
    close(metrics.mean_pairwise_jaccard(sets[:2]), 1.0 / 3.0, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# spread
# --------------------------------------------------------------------------------------------


def test_spread():
    values = jnp.array([0.5, 10.0, 0.2, -4.0])
    # Valid {0.5, 0.2}: 0.3 (the invalid 10 and -4 are ignored).
    close(metrics.spread(values, jnp.array([True, False, True, False])), 0.3)
    # All valid: 10 - (-4) = 14.
    close(metrics.spread(values, jnp.ones(4, bool)), 14.0)
    # One valid: 0.
    close(metrics.spread(values, jnp.array([False, True, False, False])), 0.0, atol=0.0)
    # None valid: 0, not inf / NaN.
    out = metrics.spread(values, jnp.zeros(4, bool))
    assert np.isfinite(float(out))
    close(out, 0.0, atol=0.0)


# --------------------------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------------------------

# Non-negative float32 values: 0 or in [2^-10, 1e3] (no tiny or subnormal values, which XLA
# may flush to 0 and which would make the tolerances below meaningless).
TINY = 2.0**-10
NONNEG = st.one_of(st.just(0.0), st.floats(TINY, 1e3, width=32))
SIGNED = st.one_of(st.just(0.0), st.floats(TINY, 1e3, width=32), st.floats(-1e3, -TINY, width=32))
VECTORS = hnp.arrays(np.float32, st.integers(1, 50), elements=NONNEG)
PROPS = settings(max_examples=50, deadline=None)

# The property tests draw many array shapes, and each new shape costs a compilation. Compiling
# each function whole (one XLA program per shape, cached across tests) is several times cheaper
# than compiling its eager primitives one by one; `test_jit_matches_eager` checks that the
# compiled functions agree with the eager ones.
_jit_gini = jax.jit(metrics.gini)
_jit_entropy_bits = jax.jit(metrics.entropy_bits)
_jit_intra_list_diversity = jax.jit(metrics.intra_list_diversity)
_jit_ndcg = jax.jit(metrics.ndcg, static_argnums=2)
_jit_self_information = jax.jit(metrics.self_information)


@PROPS
@given(x=VECTORS)
def test_gini_bounds(x):
    n = x.size
    g = float(_jit_gini(x))
    assert -1e-5 <= g <= (n - 1) / n + 1e-5


@PROPS
@given(x=VECTORS, data=st.data())
def test_gini_entropy_permutation_invariant(x, data):
    perm = np.array(data.draw(st.permutations(range(x.size))), dtype=np.int64)
    close(_jit_gini(x[perm]), float(_jit_gini(x)), rtol=1e-5, atol=1e-6)
    close(_jit_entropy_bits(x[perm]), float(_jit_entropy_bits(x)), rtol=1e-5, atol=1e-5)


@PROPS
@given(x=VECTORS, scale=st.floats(1e-2, 1e2))
def test_gini_scale_invariant(x, scale):
    scaled = (x.astype(np.float64) * scale).astype(np.float32)
    close(_jit_gini(scaled), float(_jit_gini(x)), rtol=1e-5, atol=1e-5)


@PROPS
@given(x=VECTORS)
def test_entropy_bounds(x):
    h = float(_jit_entropy_bits(x))
    assert -1e-5 <= h <= math.log2(x.size) + 1e-5


SLATE_FEATURES = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 8), st.integers(1, 6)),
    elements=SIGNED,
)


@PROPS
@given(features=SLATE_FEATURES, data=st.data())
def test_ild_bounds_and_row_permutation(features, data):
    ild = float(_jit_intra_list_diversity(features))
    assert -1e-5 <= ild <= 2.0 + 1e-5
    perm = np.array(data.draw(st.permutations(range(features.shape[0]))), dtype=np.int64)
    close(_jit_intra_list_diversity(features[perm]), ild, rtol=1e-5, atol=1e-5)


@PROPS
@given(gains_all=VECTORS, data=st.data())
def test_ndcg_bounds(gains_all, data):
    n = gains_all.size
    k = data.draw(st.integers(1, n))
    # The shown items are k distinct items of the catalogue, in any order.
    order = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    shown = gains_all[order[:k]]
    v = float(_jit_ndcg(shown, gains_all, k))
    assert -1e-6 <= v <= 1.0 + 1e-5
    # Showing the top-k in descending order is ideal: 1 (0 when every gain is 0).
    best = np.sort(gains_all)[::-1][:k].copy()
    close(_jit_ndcg(best, gains_all, k), 1.0 if gains_all.max() > 0 else 0.0, atol=1e-5)


COUNTS = hnp.arrays(np.float32, st.integers(2, 50), elements=st.integers(1, 1000))


@PROPS
@given(counts=COUNTS)
def test_self_information_positive_and_decreasing(counts):
    n = counts.size
    info = np.asarray(_jit_self_information(counts, np.arange(n)), dtype=np.float64)
    assert np.all(info > 0)
    # More popular -> fewer bits, strictly; equally popular -> equal bits.
    for i in range(n):
        for j in range(n):
            if counts[i] < counts[j]:
                assert info[i] > info[j]
            elif counts[i] == counts[j]:
                assert info[i] == info[j]


@PROPS
@given(counts=COUNTS, data=st.data())
def test_self_information_more_popular_means_fewer_bits(counts, data):
    i = data.draw(st.integers(0, counts.size - 1))
    more = counts.copy()
    more[i] += 1
    before = float(_jit_self_information(counts, i))
    after = float(_jit_self_information(more, i))
    assert after < before


# --------------------------------------------------------------------------------------------
# jit equivalence
# --------------------------------------------------------------------------------------------

_X = jnp.array([0.0, 3.0, 1.0, 7.0, 2.5])
_F = jnp.array([[[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [-1.0, 2.0, 0.0]], [[1.0] * 3] * 3])
_G = jnp.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
_G_ALL = jnp.array([[1.0, 2.0, 0.5, 4.0], [0.0, 0.0, 3.0, 1.0]])
_COUNTS = jnp.array([3.0, 0.5, 1.0, 4.0, 2.0])
_IDS = jnp.array([[0, 4], [1, 1]])
_VALID = jnp.array([True, False, True, True, False])

JIT_CASES = {
    "position_discount": (lambda: metrics.position_discount(5), None),
    "gini": (metrics.gini, (_X,)),
    "entropy_bits": (metrics.entropy_bits, (_X,)),
    "intra_list_diversity": (metrics.intra_list_diversity, (_F,)),
    "dcg": (metrics.dcg, (_G,)),
    "ndcg": (lambda s, a: metrics.ndcg(s, a, 3), (_G, _G_ALL)),
    "ndcg_from_ideal": (metrics.ndcg_from_ideal, (_G, -jnp.sort(-_G, axis=-1))),
    "self_information": (metrics.self_information, (_COUNTS, _IDS)),
    "precision_at_k": (metrics.precision_at_k, (_G, _G_ALL)),
    "spread": (metrics.spread, (_X, _VALID)),
    "average_ranks": (metrics.average_ranks, (_G_ALL,)),
    "spearman": (metrics.spearman, (_G_ALL, _G_ALL[::-1])),
    "ranking_ndcg": (lambda p, g: metrics.ranking_ndcg(p, g, 3), (_G_ALL[::-1], _G_ALL)),
}


@pytest.mark.parametrize("name", sorted(JIT_CASES))
def test_jit_matches_eager(name):
    fn, args = JIT_CASES[name]
    args = () if args is None else args
    eager = np.asarray(fn(*args))
    jitted = np.asarray(jax.jit(fn)(*args))
    assert eager.shape == jitted.shape
    assert_allclose(jitted, eager, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------
# tracking: accumulate + row on a hand-built step
# --------------------------------------------------------------------------------------------

# U = 2 users, N = 4 items, k = 2, G = 2 groups (user 0 in group 0, user 1 in group 1).
ATTRACTION = jnp.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.6]])
EXAMINATION = jnp.array([1.0, 0.5])
SLATES = jnp.array([[2, 0], [3, 2]], jnp.int32)
CLICKS = jnp.array([[1, 0], [1, 1]], jnp.int32)
ITEM_FEATURES = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
# The agent's predicted click probabilities and which slots it explored.
PREDICTED = jnp.array([[0.8, 0.1, 0.5, 0.5], [0.2, 0.4, 0.4, 0.6]])
EXPLORED = jnp.array([[False, True], [False, False]])
INFO = ActInfo(scores=PREDICTED, uncertainty=jnp.zeros_like(PREDICTED), explored=EXPLORED)


def _step(user_groups=(0, 1)):
    obs = Observation(
        user_ids=jnp.array([10, 11], jnp.int32),
        user_features=jnp.zeros((2, 3), jnp.float32),
        user_groups=jnp.array(user_groups, jnp.int32),
        item_features=ITEM_FEATURES,
    )
    return obs, Feedback(clicks=CLICKS), pbm_truth(ATTRACTION)


def pbm_truth(attraction):
    """Truth under the position-based model with examination EXAMINATION, built by hand:
    best slate = top-k of the attraction, value = Σ_j κ_j a_(j)."""
    ideal, best = jax.lax.top_k(attraction, EXAMINATION.shape[0])
    return Truth(attraction=attraction, best_slates=best, best_value=ideal @ EXAMINATION)


# Population attraction as the novelty reference: shares [1/2, 1/4, 1/8, 1/8] -> [1, 2, 3, 3] bits.
REFERENCE = jnp.array([0.4, 0.2, 0.1, 0.1])
N_USERS = 12  # user ids 10 and 11 are among the P = 12 tracked users


def accumulate(totals, window, obs, slates, feedback, truth, info, item_age=None):
    """One step through `tracking.accumulate`, with the expected clicks κ_j a of the slates."""
    expected = jnp.take_along_axis(truth.attraction, slates, axis=1) * EXAMINATION
    obs = obs if item_age is None else obs.replace(item_age=item_age)
    transition = Transition(obs, slates, feedback, truth, info, expected)
    return tracking.accumulate(totals, window, transition, 2, REFERENCE)


def row(totals, window, homogeneity=0.25):
    return tracking.row(totals, window, n_users=10, user_homogeneity=jnp.float32(homogeneity))


def test_tracking_one_step_hand_computed():
    obs, feedback, truth = _step()
    totals = tracking.init_totals(4, 2, N_USERS)
    window = tracking.init_window(2)
    totals, window = accumulate(totals, window, obs, SLATES, feedback, truth, INFO)
    r = row(totals, window)

    assert set(r) == set(metric_table.METRIC_NAMES) | set(metric_table.COUNT_NAMES)

    # Shown attraction: user 0 slate [2, 0] -> [0.5, 0.9]; user 1 slate [3, 2] -> [0.6, 0.4].
    # Ideal: user 0 top-2 = items [0, 2] -> [0.9, 0.5]; user 1 = items [1, 3] -> [0.8, 0.6].
    # Clicks: user 0 [1, 0] (1), user 1 [1, 1] (2) -> 3 clicks, 2 visits * k = 4 impressions.
    assert int(r["clicks"]) == 3
    assert int(r["impressions"]) == 4
    close(r["ctr"], 3.0 / 4.0)

    # Expected clicks with examination [1, 0.5]:
    # user 0: 0.5 * 1 + 0.9 * 0.5 = 0.95; user 1: 0.6 * 1 + 0.4 * 0.5 = 0.8. Σ = 1.75.
    close(r["expected_ctr"], 1.75 / 4.0, rtol=1e-5)

    # Agent metrics: 1 of 4 slots explored; |predicted − true| per user:
    # user 0: (0.1 + 0 + 0 + 0.2) / 4 = 0.075; user 1: (0 + 0.4 + 0 + 0) / 4 = 0.1; mean 0.0875.
    close(r["explore_fraction"], 0.25)
    close(r["prediction_mae"], 0.0875, rtol=1e-5)
    # Spearman of average ranks. User 0: predicted ranks [3, 0, 1.5, 1.5], true [3, 0, 2, 1]:
    # centred products 4.5, norms² 4.5 and 5 -> 4.5 / √22.5. User 1: [0, 1.5, 1.5, 3] vs
    # [0, 3, 1, 2] -> 3 / √22.5. Mean 7.5 / (2 √22.5).
    close(r["preference_spearman"], 7.5 / (2.0 * np.sqrt(22.5)), rtol=1e-5)
    # NDCG@2 of the model's own top-2 (ties by lower index): user 0 items 0, 2 (2 before the
    # tied 3): gains [0.9, 0.5] = ideal -> 1; user 1 items 3, 1: [0.6, 0.8] vs [0.8, 0.6].
    ndcg_user1 = (0.6 + 0.8 * D1) / (0.8 + 0.6 * D1)
    close(r["greedy_ndcg"], (1.0 + ndcg_user1) / 2.0, rtol=1e-5)

    # Regret (ideal − shown) · examination:
    # user 0: (0.9 − 0.5) * 1 + (0.5 − 0.9) * 0.5 = 0.4 − 0.2 = 0.2;
    # user 1: (0.8 − 0.6) * 1 + (0.6 − 0.4) * 0.5 = 0.2 + 0.1 = 0.3.
    # Mean per visit = 0.25; cum_regret = mean over users of this one step = 0.25.
    close(r["regret"], 0.25, rtol=1e-5)
    close(r["cum_regret"], 0.25, rtol=1e-5)

    # Precision: user 0 {2, 0} vs {0, 2} -> 1; user 1 {3, 2} vs {1, 3} -> 1/2. Mean 0.75.
    close(r["precision_at_k"], 0.75)

    # NDCG with the attraction as gain and discounts [1, D1]:
    # user 0: (0.5 + 0.9 D1) / (0.9 + 0.5 D1); user 1: (0.6 + 0.4 D1) / (0.8 + 0.6 D1).
    ndcg0 = (0.5 + 0.9 * D1) / (0.9 + 0.5 * D1)
    ndcg1 = (0.6 + 0.4 * D1) / (0.8 + 0.6 * D1)
    close(r["ndcg_at_k"], (ndcg0 + ndcg1) / 2.0, rtol=1e-5)

    # ILD: user 0 items 2, 0 = [1, 1], [1, 0]: 1 − 1/√2; user 1 items 3, 2 = [−1, 0], [1, 1]:
    # 1 + 1/√2. Mean = 1.
    close(r["ild"], 1.0, rtol=1e-5)

    # Coverage: items shown {2, 0, 3} of 4 -> 0.75.
    close(r["coverage"], 0.75)

    # Novelty under REFERENCE: shown items 2, 0, 3, 2 -> 3, 1, 3, 3 bits; mean 2.5.
    close(r["novelty"], 2.5, rtol=1e-6)

    # Groups: group 0 = user 0: best 0.9 + 0.5 * 0.5 = 1.15, regret 0.2; group 1 = user 1:
    # best 0.8 + 0.6 * 0.5 = 1.1, regret 0.3. The oracle serves group 0 better (CTR 0.575
    # vs 0.55); the agent's CTRs are 0.475 and 0.4: its gap 0.075 exceeds the oracle's 0.025
    # by 0.05 (= shortfall per slot 0.15 of group 1 − 0.1 of group 0).
    close(r["excess_group_gap"], 0.05, rtol=1e-5)
    close(r["group_regret_gap"], 0.1, rtol=1e-5)

    # Homogenisation: the env's value passes through; consumed sets of the 12 tracked users:
    # user 10 {2}, user 11 {2, 3}, others empty. Pairs with a non-empty union: (10, 11) with
    # Jaccard 1/2, and the 20 pairs of 10 or 11 with an empty set (0). Mean 0.5 / 21.
    close(r["user_homogeneity"], 0.25)
    close(r["consumption_overlap"], 0.5 / 21.0, rtol=1e-5)

    # Exposure counts n_ij: item 2 at position 0 (user 0) and 1 (user 1); item 0 at 1;
    # item 3 at 0. Discounted exposure = [D1, 0, 1 + D1, 1].
    expected_counts = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
    np.testing.assert_array_equal(np.asarray(totals.exposure), expected_counts)
    exposure = np.array([D1, 0.0, 1.0 + D1, 1.0], np.float32)
    close(r["exposure_gini"], float(metrics.gini(exposure)), rtol=1e-5)
    close(r["exposure_entropy"], float(metrics.entropy_bits(exposure)), rtol=1e-5)
    # And by hand: sorted [0, D1, 1, 1 + D1], weights [−3, −1, 1, 3]:
    # Σ w x = −D1 + 1 + 3 + 3 D1 = 4 + 2 D1; Σ x = 2 + 2 D1;
    # G = (4 + 2 D1) / (4 (2 + 2 D1)) = (2 + D1) / (4 (1 + D1)) ≈ 0.40329.
    close(r["exposure_gini"], (2.0 + D1) / (4.0 * (1.0 + D1)), rtol=1e-5)
    p = np.array([D1, 1.0 + D1, 1.0]) / (2.0 + 2.0 * D1)
    close(r["exposure_entropy"], float(-np.sum(p * np.log2(p))), rtol=1e-5)

    consumed = np.zeros((N_USERS, 4), bool)
    consumed[10, 2] = consumed[11, 2] = consumed[11, 3] = True
    np.testing.assert_array_equal(np.asarray(totals.consumed), consumed)

    for name in metric_table.METRIC_NAMES:
        assert r[name].dtype == jnp.float32, name
        assert r[name].shape == (), name
    # Counts stay integers (a float32 count stops at 2^24 = 16.8M visits).
    counts = (totals.exposure, totals.visits, totals.departures, totals.new_best,
              totals.new_best_shown, window.visits, window.model_visits, window.group_visits,
              r["clicks"], r["impressions"])  # fmt: skip
    assert all(count.dtype == jnp.int32 for count in counts), [c.dtype for c in counts]
    assert totals.consumed.dtype == jnp.bool_  # [P, N] sets: a byte per pair, not four


def test_tracking_two_steps_accumulate():
    obs, feedback, truth = _step()
    totals = tracking.init_totals(4, 2, N_USERS)
    window = tracking.init_window(2)
    for _ in range(2):
        totals, window = accumulate(totals, window, obs, SLATES, feedback, truth, INFO)
    r = row(totals, window)

    assert int(r["clicks"]) == 6
    assert int(r["impressions"]) == 8  # 4 visits * k
    close(r["ctr"], 0.75)
    # Same step twice: per-visit means unchanged, cum_regret doubles (0.25 + 0.25).
    close(r["regret"], 0.25, rtol=1e-5)
    close(r["cum_regret"], 0.5, rtol=1e-5)
    # Novelty is against the shared reference, not the agent's own clicks: unchanged.
    close(r["novelty"], 2.5, rtol=1e-6)
    # Clicking the same items again leaves the consumed sets as they were.
    close(r["consumption_overlap"], 0.5 / 21.0, rtol=1e-5)

    # Exposure doubles; gini and entropy are scale-invariant, so unchanged.
    close(r["exposure_gini"], (2.0 + D1) / (4.0 * (1.0 + D1)), rtol=1e-5)


def test_tracking_precision_counts_against_each_users_own_kth_best():
    # User 1's item 2 at 0.55 lies between user 0's 2nd-best (0.5) and user 1's own (0.6).
    obs, feedback, _ = _step()
    truth = pbm_truth(jnp.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.55, 0.6]]))
    totals, window = accumulate(
        tracking.init_totals(4, 2, N_USERS), tracking.init_window(2), obs, SLATES, feedback,
        truth, INFO,
    )  # fmt: skip
    # User 0 shows {2, 0}, both ≥ 0.5: 1; user 1 shows {3, 2} = [0.6, 0.55], one ≥ 0.6: 1/2.
    close(row(totals, window)["precision_at_k"], 0.75)


def _users(rows, groups):
    """A step of the users whose attraction, prediction, slate and clicks are rows `rows` of
    the hand example (0 or 1 each), in user groups `groups`."""
    rows = jnp.array(rows)
    obs = Observation(
        user_ids=jnp.arange(rows.shape[0], dtype=jnp.int32),
        user_features=jnp.zeros((rows.shape[0], 3), jnp.float32),
        user_groups=jnp.array(groups, jnp.int32),
        item_features=ITEM_FEATURES,
    )
    info = ActInfo(scores=PREDICTED[rows], uncertainty=jnp.zeros((rows.shape[0], 4)),
                   explored=EXPLORED[rows])  # fmt: skip
    return obs, SLATES[rows], Feedback(clicks=CLICKS[rows]), pbm_truth(ATTRACTION[rows]), info


def test_tracking_group_means_are_per_visit_when_groups_visit_unequally():
    # Group 0: two users like user 1 (best 1.1, regret 0.3 each); group 1: one like user 0
    # (best 1.15, regret 0.2). Per visit the oracle serves group 1 best (0.575 vs 0.55 a
    # slot), though group 0's sums are larger: excess gap = shortfall per slot of group 0 −
    # that of group 1 = 0.15 − 0.1; regret gap 0.3 − 0.2.
    obs, slates, feedback, truth, info = _users([1, 1, 0], groups=(0, 0, 1))
    totals, window = accumulate(tracking.init_totals(4, 2, N_USERS), tracking.init_window(2),
                                obs, slates, feedback, truth, info)  # fmt: skip
    r = row(totals, window)
    close(r["excess_group_gap"], 0.05, rtol=1e-5)
    close(r["group_regret_gap"], 0.1, rtol=1e-5)


def test_tracking_model_metrics_of_a_single_visit():
    # One user (user 0 of the hand example): its own |predicted − true| mean, 0.075.
    obs, slates, feedback, truth, info = _users([0], groups=(0,))
    totals, window = accumulate(tracking.init_totals(4, 2, N_USERS), tracking.init_window(2),
                                obs, slates, feedback, truth, info)  # fmt: skip
    close(row(totals, window)["prediction_mae"], 0.075, rtol=1e-5)


def test_tracking_empty_group_is_ignored_in_gaps():
    # G = 3 with both users in group 2: groups 0 and 1 have no visits and must not count.
    obs, feedback, truth = _step(user_groups=(2, 2))
    totals = tracking.init_totals(4, 2, N_USERS)
    window = tracking.init_window(3)
    totals, window = accumulate(totals, window, obs, SLATES, feedback, truth, INFO)
    r = row(totals, window)
    np.testing.assert_array_equal(np.asarray(window.group_visits), [0, 0, 2])
    close(window.group_regret, [0.0, 0.0, 0.5], rtol=1e-5)
    close(r["excess_group_gap"], 0.0, atol=0.0)
    close(r["group_regret_gap"], 0.0, atol=0.0)


def test_tracking_accumulate_under_jit_matches_eager():
    obs, feedback, truth = _step()
    totals = tracking.init_totals(4, 2, N_USERS)
    window = tracking.init_window(2)

    def step_and_row(totals, window, obs, slates, feedback, truth):
        return row(*accumulate(totals, window, obs, slates, feedback, truth, INFO))

    eager = step_and_row(totals, window, obs, SLATES, feedback, truth)
    jitted = jax.jit(step_and_row)(totals, window, obs, SLATES, feedback, truth)
    for name in eager:
        assert_allclose(np.asarray(jitted[name]), np.asarray(eager[name]), rtol=1e-6, err_msg=name)


def test_tracking_new_items_and_leaving_users_hand_computed():
    # Ages [0, 1, 2, 3] with new_item_age = 2: items 0 and 1 are new (item 2, at age 2 exactly,
    # is no longer).
    obs, _, truth = _step()
    feedback = Feedback(clicks=CLICKS, left=jnp.array([False, True]))
    age = jnp.array([0, 1, 2, 3], jnp.int32)
    totals, window = accumulate(
        tracking.init_totals(4, 2, N_USERS), tracking.init_window(2), obs, SLATES, feedback,
        truth, INFO, item_age=age,
    )  # fmt: skip
    r = row(totals, window)
    # Shown: user 0 [2, 0] (item 0 new), user 1 [3, 2] (none): 1 of 4 impressions.
    close(r["new_item_exposure"], 0.25)
    # Best slates: user 0 [0, 2] (item 0 new, shown), user 1 [1, 3] (item 1 new, not shown).
    close(r["new_item_recall"], 0.5)
    # User 1 left after the visit: 1 departure in 2 visits; lifetime = 2 visits / (10 + 1).
    close(r["churn_rate"], 0.5)
    # The slot of the user who left is emptied for its replacement: only user 10's {2} stays.
    assert np.asarray(totals.consumed).sum() == 1 and bool(totals.consumed[10, 2])
    close(r["user_lifetime"], 2.0 / 11.0, rtol=1e-6)
    # At step 1, item 1 (age 1) has been there since step 0: the initial catalogue is never
    # new. Only item 0 is; user 0's best slate holds it and it was shown: recall 1.
    totals, window = accumulate(
        tracking.init_totals(4, 2, N_USERS), tracking.init_window(2),
        obs.replace(step=jnp.int32(1)), SLATES, feedback, truth, INFO, item_age=age,
    )  # fmt: skip
    r = row(totals, window)
    close(r["new_item_exposure"], 0.25)
    close(r["new_item_recall"], 1.0)
    # Without ages or departures (an env that reports neither): nothing new, nobody leaves.
    obs, feedback, truth = _step()
    totals, window = accumulate(
        tracking.init_totals(4, 2, N_USERS),
        tracking.init_window(2),
        obs,
        SLATES,
        feedback,
        truth,
        INFO,
    )
    r = row(totals, window)
    close(r["new_item_exposure"], 0.0)
    close(r["new_item_recall"], 0.0)
    close(r["churn_rate"], 0.0)
    close(r["user_lifetime"], 0.2)
