"""Exploration strategies: the shared contract, jit/trace behaviour, hand-worked examples and
the distributions of the stochastic ones (chi-square / binomial bounds at fixed seeds)."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from agents.exploration import REGISTRY, Scores
from agents.exploration.boltzmann import BoltzmannConfig
from agents.exploration.diversity import DiversityConfig
from agents.exploration.epsilon_greedy import EpsilonGreedyConfig, epsilon_at
from agents.exploration.ucb import UCBConfig
from agents.exploration.uncertainty import UncertaintyConfig
from recsim.core.metrics import intra_list_diversity
from recsim.core.types import EnvSpec
from recsim.core.validation import ConfigError
from tests.power import chi_square_power, one_cell_off, rate_power

U, N, K, F = 64, 20, 5, 6
STEP = jnp.int32(0)

# Two different numeric settings per strategy: the second must reuse the first's trace.
PARAM_VARIANTS = {
    "greedy": ({}, {}),
    "random": ({}, {}),
    "epsilon_greedy": (
        dict(epsilon=0.1, decay=1.0, epsilon_min=0.0),
        dict(epsilon=0.7, decay=0.9, epsilon_min=0.05),
    ),
    "diversity": (dict(relevance_weight=0.7), dict(relevance_weight=0.2)),
    "uncertainty": (dict(n_query=1, threshold=0.0), dict(n_query=3, threshold=0.1)),
    "boltzmann": (dict(temperature=0.05), dict(temperature=2.0)),
    "ucb": (dict(beta=1.0), dict(beta=0.0)),
    "thompson": ({}, {}),
}


SPEC = EnvSpec(n_items=N, slate_size=K, users_per_step=U, user_feature_dim=F,
               item_feature_dim=F, n_groups=1, n_users=U)  # fmt: skip


def build(name, **fields):
    """(select, params) of a registered strategy with config fields overridden."""
    entry = REGISTRY[name]
    exploration, params = entry.make(entry.config_class(**fields), SPEC)
    return exploration.select, params


@functools.cache
def jitted(name):
    """One jitted `select` per strategy (k static), shared by all tests."""
    select, _ = build(name)
    return jax.jit(select, static_argnums=3)


def run(name, scores, item_features, k, key=0, step=0, **fields):
    """Jitted select of strategy `name` -> numpy (slates, explored)."""
    _, params = build(name, **fields)
    slates, explored = jitted(name)(
        jax.random.key(key), scores, item_features, k, params, jnp.int32(step)
    )
    return np.asarray(slates), np.asarray(explored)


def random_scores(seed, users=U, n_items=N):
    k_mean, k_std, k_noise = jax.random.split(jax.random.key(seed), 3)
    mean = jax.random.uniform(k_mean, (users, n_items))
    std = 0.3 * jax.random.uniform(k_std, (users, n_items))
    sample = mean + std * jax.random.normal(k_noise, (users, n_items))
    return Scores(mean=mean, std=std, sample=sample)


def random_features(seed, n_items=N, dim=F):
    return jax.random.normal(jax.random.key(seed), (n_items, dim))


def fixed_scores(mean, std=None, sample=None):
    """Scores from python lists (one row per user)."""
    mean = jnp.asarray(mean, jnp.float32)
    std = jnp.zeros_like(mean) if std is None else jnp.asarray(std, jnp.float32)
    sample = mean if sample is None else jnp.asarray(sample, jnp.float32)
    return Scores(mean=mean, std=std, sample=sample)


def greedy_top_k(values, k):
    """Numpy reference: indices of the k largest per row, largest first (no ties assumed)."""
    return np.argsort(-np.asarray(values), axis=1, kind="stable")[:, :k]


def outside_greedy(slates, mean):
    greedy = greedy_top_k(mean, slates.shape[1])
    return ~np.any(slates[:, :, None] == greedy[:, None, :], axis=-1)


def assert_valid(slates, explored, users, n_items, k):
    assert slates.shape == (users, k)
    assert np.issubdtype(slates.dtype, np.integer)
    assert slates.min() >= 0 and slates.max() < n_items
    ordered = np.sort(slates, axis=1)
    assert np.all(ordered[:, 1:] != ordered[:, :-1]), "repeated item within a slate"
    assert explored.shape == (users, k)
    assert explored.dtype == np.bool_


UNIFORM_ALPHA = 1e-3  # level of each per-position χ² test against uniform


def chi_square_uniform(counts):
    """Chi-square statistic of `counts` against uniform, and its critical value at level
    UNIFORM_ALPHA."""
    counts = np.asarray(counts, np.float64)
    expected = counts.sum() / counts.size
    statistic = np.sum((counts - expected) ** 2 / expected)
    return statistic, stats.chi2.isf(UNIFORM_ALPHA, counts.size - 1)


def assert_uniform_per_position(slates, n_items):
    """χ² against uniform (1 / N, an independent formula) at each position, level UNIFORM_ALPHA.
    The sample must be large enough that one item's probability 10 % off is caught with power
    ≥ 0.99 (N = 10: 50,000 slates give power 0.998; 20,000 gave only 0.59)."""
    power = chi_square_power(*one_cell_off(n_items), slates.shape[0], UNIFORM_ALPHA)
    assert power >= 0.99, power
    for position in range(slates.shape[1]):
        counts = np.bincount(slates[:, position], minlength=n_items)
        statistic, critical = chi_square_uniform(counts)
        assert statistic < critical, (position, counts, statistic, critical)


# --------------------------------------------------------------------------------------------
# The shared contract, for every registered strategy
# --------------------------------------------------------------------------------------------


def test_registry_names_match_configs():
    assert set(REGISTRY) == set(PARAM_VARIANTS)
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.config_class().name == name
        entry.config_class().validate(slate_size=K)  # defaults are valid
        strategy, _ = entry.make(entry.config_class(), SPEC)
        assert strategy.name == name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_valid_slates_and_jit_matches_eager(name):
    scores, features = random_scores(1), random_features(2)
    select, params = build(name)
    key = jax.random.key(3)
    eager = select(key, scores, features, K, params, STEP)
    compiled = jitted(name)(key, scores, features, K, params, STEP)
    for out in (eager, compiled):
        assert_valid(np.asarray(out[0]), np.asarray(out[1]), U, N, K)
    np.testing.assert_array_equal(np.asarray(eager[0]), np.asarray(compiled[0]))
    np.testing.assert_array_equal(np.asarray(eager[1]), np.asarray(compiled[1]))


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n_items", [K, K + 1, 2 * K - 2])
def test_distinct_items_with_few_items(name, n_items):
    """k distinct items per user also when the catalogue is barely larger than the slate."""
    # epsilon_greedy: a middle ε explores some slots but keeps others (the hard case).
    fields = dict(epsilon=0.5) if name == "epsilon_greedy" else {}
    scores, features = random_scores(4, users=256, n_items=n_items), random_features(5, n_items)
    slates, explored = run(name, scores, features, K, key=6, **fields)
    assert_valid(slates, explored, 256, n_items, K)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_select_traces_once_across_params_and_keys(name):
    traces = []
    select = build(name)[0]

    def counted(*args):
        traces.append(1)
        return select(*args)

    compiled = jax.jit(counted, static_argnums=3)
    scores, features = random_scores(7), random_features(8)
    for seed, fields in enumerate(PARAM_VARIANTS[name]):
        _, params = build(name, **fields)
        key = jax.random.key(10 + seed)
        slates, explored = compiled(key, scores, features, K, params, jnp.int32(seed * 7))
        assert_valid(np.asarray(slates), np.asarray(explored), U, N, K)
        # The traced params are really used: the compiled result equals the eager one.
        eager = select(key, scores, features, K, params, jnp.int32(seed * 7))
        np.testing.assert_array_equal(np.asarray(slates), np.asarray(eager[0]))
        np.testing.assert_array_equal(np.asarray(explored), np.asarray(eager[1]))
    assert len(traces) == 1


@pytest.mark.parametrize("name", ["diversity", "boltzmann", "ucb", "thompson"])
def test_explored_marks_items_outside_greedy_top_k(name):
    """Strategies without their own mechanism mark the slots not in the greedy top-k of mean."""
    fields = {
        "diversity": dict(relevance_weight=0.3),
        "boltzmann": dict(temperature=0.2),
        "ucb": dict(beta=2.0),
        "thompson": {},
    }[name]
    scores = random_scores(11)
    slates, explored = run(name, scores, random_features(12), K, key=13, **fields)
    expected = outside_greedy(slates, scores.mean)
    np.testing.assert_array_equal(explored, expected)
    assert 0 < expected.sum() < expected.size  # the check is not vacuous


def test_greedy_is_top_k_of_mean():
    scores = random_scores(14)
    slates, explored = run("greedy", scores, random_features(15), K)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.mean, K))
    assert not explored.any()


# --------------------------------------------------------------------------------------------
# epsilon_greedy
# --------------------------------------------------------------------------------------------


def test_epsilon_zero_is_greedy():
    scores = random_scores(20)
    slates, explored = run("epsilon_greedy", scores, random_features(21), K, key=22, epsilon=0.0)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.mean, K))
    assert not explored.any()


def test_epsilon_one_explores_every_slot_uniformly():
    """n = 50,000 slates, α = 0.001 per position (χ², df = 9, expected 1 / N): one item's
    probability off by 10 % (0.1 → 0.11) fails it with power 0.998 (asserted in the helper)."""
    users, n_items, k = 50000, 10, 3
    scores = random_scores(23, users=users, n_items=n_items)
    slates, explored = run(
        "epsilon_greedy", scores, random_features(24, n_items), k, key=25, epsilon=1.0
    )
    assert explored.all()
    assert_valid(slates, explored, users, n_items, k)
    assert_uniform_per_position(slates, n_items)


@pytest.mark.parametrize(
    ("fields", "step", "expected_epsilon"),
    [
        (dict(epsilon=0.3), 0, 0.3),
        (dict(epsilon=0.3), 50, 0.3),  # decay = 1: constant
        (dict(epsilon=0.5, decay=0.9), 5, 0.5 * 0.9**5),
        (dict(epsilon=0.5, decay=0.5, epsilon_min=0.2), 4, 0.2),  # floored
    ],
)
def test_explored_fraction_matches_epsilon_t(fields, step, expected_epsilon):
    """ε_t = max(ε_min, ε · decay^t) written out by hand in the parameters. n = 20,000 slates ×
    5 slots = 100,000 coins; the overall count must lie within 5 standard errors (α = 5.7e-7,
    two-sided): ε_t off by 10 % either way (e.g. 0.3 → 0.33 or 0.27) fails it with power
    > 0.9999 (asserted); every slot's own rate within 5 standard errors as well."""
    users, z_bound = 20000, 5.0
    scores = random_scores(26, users=users)
    slates, explored = run(
        "epsilon_greedy", scores, random_features(27), K, key=28, step=step, **fields
    )
    n = explored.size
    for wrong in (1.1 * expected_epsilon, 0.9 * expected_epsilon):
        assert rate_power(expected_epsilon, wrong, n, z_bound) >= 0.99, wrong
    bound = z_bound * np.sqrt(n * expected_epsilon * (1 - expected_epsilon))
    assert abs(explored.sum() - n * expected_epsilon) < bound
    # Each slot explores with the same probability.
    per_slot = explored.mean(axis=0)
    slot_bound = z_bound * np.sqrt(expected_epsilon * (1 - expected_epsilon) / users)
    np.testing.assert_array_less(np.abs(per_slot - expected_epsilon), slot_bound)


def test_explored_slots_per_slate_follow_binomial_k_epsilon():
    """Each slot flips its own coin: the explored slots of a slate are Binomial(k, ε), not
    0 or k (one coin per slate, which gives the same per-slot and overall rates). 20,000
    slates, χ² over the k + 1 counts against the binomial pmf (scipy, not the code under test),
    α = 1e-4, df = 5: one coin per slate puts mass (1 − ε), ε on 0 and k only, χ² in the tens
    of thousands; ε off by 10 % (0.3 → 0.33 or 0.27) fails it with power > 0.9999 (asserted)."""
    users, epsilon, alpha = 20000, 0.3, 1e-4
    expected_pmf = stats.binom.pmf(np.arange(K + 1), K, epsilon)
    for wrong in (1.1 * epsilon, 0.9 * epsilon):
        wrong_pmf = stats.binom.pmf(np.arange(K + 1), K, wrong)
        assert chi_square_power(expected_pmf, wrong_pmf, users, alpha) >= 0.99, wrong
    scores = random_scores(35, users=users)
    _, explored = run("epsilon_greedy", scores, random_features(36), K, key=37, epsilon=epsilon)
    counts = np.bincount(explored.sum(axis=1), minlength=K + 1)
    expected = users * expected_pmf
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=K) > alpha, (counts, expected.round())


def test_epsilon_greedy_keeps_greedy_slots_and_explores_unseen_items():
    users = 2000
    scores = random_scores(29, users=users)
    slates, explored = run("epsilon_greedy", scores, random_features(30), K, key=31, epsilon=0.5)
    assert_valid(slates, explored, users, N, K)
    greedy = greedy_top_k(scores.mean, K)
    # Unexplored slots hold the greedy item of that very slot.
    np.testing.assert_array_equal(slates[~explored], greedy[~explored])
    # An explored slot never repeats a greedy item that stayed in the slate.
    kept = np.where(explored, -1, greedy)  # [U, k], -1 where the greedy item was dropped
    duplicates = np.any(slates[:, :, None] == kept[:, None, :], axis=-1) & explored
    assert not duplicates.any()
    # Issue 10 item 8: an explored slot never shows a greedy item (the old rule re-drew the
    # slot's own greedy item 1 time in N − k + 1 and still called it explored).
    assert outside_greedy(slates, scores.mean)[explored].all()


def test_epsilon_greedy_in_a_tiny_catalogue_counts_only_real_exploration():
    """N = k + 1 and ε = 1: one non-greedy item exists, so exactly one slot per user is
    explored; the others fall back to greedy items and are not counted."""
    users, k = 4000, K
    scores = random_scores(32, users=users, n_items=k + 1)
    slates, explored = run(
        "epsilon_greedy", scores, random_features(33, k + 1), k, key=34, epsilon=1.0
    )
    assert_valid(slates, explored, users, k + 1, k)
    np.testing.assert_array_equal(explored.sum(axis=1), np.ones(users))
    outside = outside_greedy(slates, scores.mean)
    np.testing.assert_array_equal(outside, explored)


@pytest.mark.parametrize("n_items", [6, 9])
def test_epsilon_greedy_draws_every_ordered_sample_of_outside_items_equally_often(n_items):
    """ε = 1, k = 3: each slate is an ordered sample without replacement of the N − k items
    outside the greedy slate. With N = 6 all 3! orders of the 3 outside items, with N = 9 all
    6·5·4 = 120 ordered triples, must be equally likely (probability 1 / cells, an independent
    formula): χ² at α = 1e-4 (a sampler that favours low positions, or repeats an item, fails
    it). Sized so one ordered sample 10 % more (or less) likely than uniform fails it with power
    ≥ 0.99 (asserted): N = 6 with 30,000 slates (power 0.9986), N = 9 with 1,600,000 slates
    (power 0.995; 30,000 gave 0.0002)."""
    users, k, alpha = {6: 30_000, 9: 1_600_000}[n_items], 3, 1e-4
    pool = n_items - k
    cells = math.perm(pool, k)
    for factor in (1.1, 0.9):
        assert chi_square_power(*one_cell_off(cells, factor), users, alpha) >= 0.99, factor
    scores = random_scores(40, users=users, n_items=n_items)
    slates, explored = run(
        "epsilon_greedy", scores, random_features(41, n_items), k, key=42, epsilon=1.0
    )
    assert explored.all()
    greedy = greedy_top_k(scores.mean, k)
    # Relabel each slate by the items' positions among that user's outside items (0..N−k−1).
    in_greedy = np.zeros((users, n_items), bool)
    np.put_along_axis(in_greedy, greedy, True, axis=1)
    outside = np.argsort(in_greedy, axis=1, kind="stable")[:, :pool]  # ascending item ids
    assert not np.take_along_axis(in_greedy, outside, 1).any()
    position = np.argmax(outside[:, None, :] == slates[:, :, None], axis=2)  # [U, k]
    assert (np.take_along_axis(outside, position, 1) == slates).all()  # every item outside
    codes = (position * np.array([pool * pool, pool, 1])).sum(1)
    counts = np.bincount(codes, minlength=pool**3)
    assert np.count_nonzero(counts) == cells  # exactly the distinct ordered triples occur
    observed = counts[counts > 0]
    chi2 = ((observed - users / cells) ** 2 / (users / cells)).sum()
    assert stats.chi2.sf(chi2, df=cells - 1) > alpha, chi2


@pytest.mark.parametrize("n_items", [6, 8])
def test_epsilon_greedy_draws_outside_items_in_k_squared_from_n_equal_2k(n_items):
    """From N = 2k on (here k = 3), the exploring slots take `distinct_outside`'s draw (the
    O(k²) path of the module docstring), not the O(N) fallback for tiny catalogues: with ε = 1
    every slot explores, so the slate is that draw from the key `select` splits off, exactly."""
    from agents.exploration.epsilon_greedy import distinct_outside

    k, key = 3, 7
    scores = random_scores(43, users=256, n_items=n_items)
    slates, explored = run("epsilon_greedy", scores, random_features(44, n_items), k, key=key,
                           epsilon=1.0)  # fmt: skip
    _, item_key = jax.random.split(jax.random.key(key))
    expected = distinct_outside(item_key, jnp.asarray(greedy_top_k(scores.mean, k)), n_items)
    assert explored.all()
    np.testing.assert_array_equal(slates, np.asarray(expected))


def test_epsilon_at_schedule_by_hand():
    _, params = build("epsilon_greedy", epsilon=0.8, decay=0.5, epsilon_min=0.15)
    for step, expected in [(0, 0.8), (1, 0.4), (2, 0.2), (3, 0.15), (10, 0.15)]:
        # max(0.15, 0.8 * 0.5**t): 0.8, 0.4, 0.2, max(0.15, 0.1), max(0.15, 0.00078)
        np.testing.assert_allclose(float(epsilon_at(params, jnp.int32(step))), expected, 1e-6)
    _, constant = build("epsilon_greedy", epsilon=0.3)
    np.testing.assert_allclose(float(epsilon_at(constant, jnp.int32(1000))), 0.3, 1e-6)


# --------------------------------------------------------------------------------------------
# diversity (MMR)
# --------------------------------------------------------------------------------------------


def test_diversity_relevance_weight_one_is_greedy():
    scores = random_scores(40)
    slates, explored = run("diversity", scores, random_features(41), K, relevance_weight=1.0)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.mean, K))
    assert not explored.any()


# Four items, 3-D features:
#   item  mean  feature      cos to item 0   cos to item 2
#   0     0.9   (1, 0, 0)    1               0
#   1     0.8   (1, 0.1, 0)  0.995           0.0995
#   2     0.5   (0, 1, 0)    0               1
#   3     0.3   (0, 0, 1)    0               0
# MMR with λ = 0.5, value = 0.5 · mean − 0.5 · max_{s in slate} cos(x_i, x_s):
#   pick 1: no penalty -> 0.5 · mean, largest for item 0.
#   pick 2: item 1: 0.40 − 0.4975 = −0.0975; item 2: 0.25 − 0 = 0.25;
#           item 3: 0.15 − 0 = 0.15                                      -> item 2.
#   pick 3: item 1: 0.40 − 0.5 · max(0.995, 0.0995) = −0.0975;
#           item 3: 0.15 − 0.5 · max(0, 0) = 0.15                         -> item 3.
#           (Penalising only by the last pick, item 2, would give item 1 0.35 and pick it.)
#   pick 4: item 1, the only one left.
# Greedy is [0, 1, 2, 3]: the near-duplicate item 1 drops from second to last.
HAND_FEATURES = jnp.asarray([[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
HAND_MEAN = [[0.9, 0.8, 0.5, 0.3]]


@pytest.mark.parametrize(
    ("k", "expected_slate", "expected_explored"),
    [
        (2, [0, 2], [False, True]),  # greedy top-2 is {0, 1}: item 2 is exploration
        (3, [0, 2, 3], [False, False, True]),  # greedy top-3 is {0, 1, 2}
        (4, [0, 2, 3, 1], [False, False, False, False]),  # every item is in greedy top-4
    ],
)
def test_diversity_hand_example(k, expected_slate, expected_explored):
    slates, explored = run(
        "diversity", fixed_scores(HAND_MEAN), HAND_FEATURES, k, relevance_weight=0.5
    )
    np.testing.assert_array_equal(slates, [expected_slate])
    np.testing.assert_array_equal(explored, [expected_explored])


def test_diversity_zero_weight_increases_intra_list_diversity():
    users = 256
    scores, features = random_scores(42, users=users), random_features(43)
    greedy, _ = run("greedy", scores, features, K)
    diverse, _ = run("diversity", scores, features, K, relevance_weight=0.0)
    middle, _ = run("diversity", scores, features, K, relevance_weight=0.5)

    def ild(slates):
        return float(jnp.mean(intra_list_diversity(features[slates])))

    # (MMR is itself greedy, so λ = 0 need not beat λ = 0.5; both must beat the greedy slate.)
    assert ild(diverse) > ild(greedy) + 0.1
    assert ild(middle) > ild(greedy)


def test_diversity_zero_weight_first_pick_is_most_relevant():
    """λ = 0: pure diversity *after* the first pick, which (no slate yet) is the most relevant.

    For any λ > 0 the first MMR value is λ · mean, so slot 0 is the greedy top-1; λ = 0 should
    be that limit, not an arbitrary user-independent item.
    """
    scores, features = random_scores(44), random_features(45)
    greedy_first = greedy_top_k(scores.mean, 1)[:, 0]
    small, _ = run("diversity", scores, features, K, relevance_weight=1e-3)
    np.testing.assert_array_equal(small[:, 0], greedy_first)
    zero, _ = run("diversity", scores, features, K, relevance_weight=0.0)
    np.testing.assert_array_equal(zero[:, 0], greedy_first)


def mmr_reference(mean, features, lam, k):
    """MMR in float64 from the module docstring's formula: slates [U, k] and, per pick, the
    gap between the best and the second-best value (a near-tie may go either way in float32)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    slates, gaps = [], []
    for row in mean:
        slate, max_similarity = [], np.full(len(row), -np.inf)
        for position in range(k):
            value = row.copy() if position == 0 else lam * row - (1 - lam) * max_similarity
            value[slate] = -np.inf
            best, second = np.sort(value)[::-1][:2]
            gaps.append(best - second)
            slate.append(int(np.argmax(value)))
            max_similarity = np.maximum(max_similarity, unit @ unit[slate[-1]])
        slates.append(slate)
    return np.asarray(slates), min(gaps)


@pytest.mark.parametrize("relevance_weight", [0.2, 0.5, 0.8])
def test_diversity_matches_reference_on_features_of_any_length(relevance_weight):
    """Cosine similarity of the features whatever their length (norms from about 0.1 to 10,
    half of them below 1; one item without features: cosine 0 to every item)."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(N, F)) * 10 ** rng.uniform(-1.5, 0.5, size=(N, 1))
    features[3] = 0.0
    scores = random_scores(46)
    slates, explored = run("diversity", scores, jnp.asarray(features, jnp.float32), K,
                           relevance_weight=relevance_weight)  # fmt: skip
    assert_valid(slates, explored, U, N, K)
    expected, smallest_gap = mmr_reference(np.asarray(scores.mean, np.float64), features,
                                           relevance_weight, K)  # fmt: skip
    assert smallest_gap > 1e-5  # no near-tie: float32 must pick as float64 does
    np.testing.assert_array_equal(slates, expected)


# --------------------------------------------------------------------------------------------
# uncertainty (uncertainty-query)
# --------------------------------------------------------------------------------------------

# Six items, one user; mean decreasing with the id, so greedy is [0, 1, 2, 3, ...].
#   std:  0.01 0.30 0.02 0.05 0.50 0.20   -> by uncertainty: 4 (0.5), 1 (0.3), 5 (0.2), 3, 2, 0
UNC_SCORES = fixed_scores(
    [[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]], std=[[0.01, 0.30, 0.02, 0.05, 0.50, 0.20]]
)
UNC_FEATURES = jnp.eye(6)


@pytest.mark.parametrize(
    ("n_query", "threshold", "expected_slate", "n_explored"),
    [
        # One query: item 4 (std 0.5) takes the last slot; greedy [0, 1, 2] keeps the top.
        (1, 0.1, [0, 1, 2, 4], 1),
        # τ = 0.3 exactly item 1's std: strictly above is only item 4.
        (2, 0.3, [0, 1, 2, 4], 1),
        # Two queries 4, 1 (above τ = 0.1, highest std first); greedy excluding them: 0, 2.
        (2, 0.1, [0, 2, 4, 1], 2),
        # No query slots: greedy.
        (0, 0.1, [0, 1, 2, 3], 0),
        # τ above every std: nothing qualifies, greedy and nothing explored.
        (2, 0.6, [0, 1, 2, 3], 0),
        # n_query = 2 but only item 4 is above τ = 0.4: exactly one query slot.
        (2, 0.4, [0, 1, 2, 4], 1),
        # n_query = k, all six above τ = 0: the 4 most uncertain, highest std first.
        (4, 0.0, [4, 1, 5, 3], 4),
        # n_query = k but only three above τ = 0.1: one greedy slot (item 0), three queries.
        (4, 0.1, [0, 4, 1, 5], 3),
    ],
)
def test_uncertainty_hand_example(n_query, threshold, expected_slate, n_explored):
    k = 4
    slates, explored = run(
        "uncertainty", UNC_SCORES, UNC_FEATURES, k, n_query=n_query, threshold=threshold
    )
    np.testing.assert_array_equal(slates, [expected_slate])
    # Query slots are exactly the last n_explored slots.
    np.testing.assert_array_equal(explored, [[j >= k - n_explored for j in range(k)]])


@pytest.mark.parametrize(("n_query", "threshold"), [(0, 0.0), (1, 0.0), (2, 0.15), (5, 0.25)])
def test_uncertainty_matches_reference_on_random_scores(n_query, threshold):
    scores = random_scores(50)
    slates, explored = run(
        "uncertainty", scores, random_features(51), K, n_query=n_query, threshold=threshold
    )
    assert_valid(slates, explored, U, N, K)
    mean, std = np.asarray(scores.mean), np.asarray(scores.std)
    for u in range(U):
        eligible = np.flatnonzero(std[u] > threshold)
        queries = eligible[np.argsort(-std[u, eligible], kind="stable")][:n_query]
        rest = [i for i in np.argsort(-mean[u], kind="stable") if i not in set(queries)]
        expected = list(rest[: K - len(queries)]) + list(queries)
        np.testing.assert_array_equal(slates[u], expected, err_msg=f"user {u}")
        np.testing.assert_array_equal(explored[u], np.arange(K) >= K - len(queries))


# --------------------------------------------------------------------------------------------
# boltzmann
# --------------------------------------------------------------------------------------------


def test_boltzmann_tiny_temperature_is_greedy():
    # Distinct, well separated means (gap 1/19): mean / T gaps of ~500 dwarf the Gumbel noise.
    base = np.linspace(0.0, 1.0, N)
    rng = np.random.default_rng(60)
    mean = np.stack([rng.permutation(base) for _ in range(U)])
    scores = fixed_scores(mean)
    slates, explored = run("boltzmann", scores, random_features(61), K, key=62, temperature=1e-4)
    np.testing.assert_array_equal(slates, greedy_top_k(mean, K))
    assert not explored.any()


def test_boltzmann_single_item_frequencies_follow_softmax():
    """k = 1: the item is drawn with probability softmax(mean / T) (written out in NumPy here).
    n = 20,000 draws, χ² at α = 0.001, df = 4: T off by 10 % (0.5 → 0.55 or 0.45) fails it
    with power 0.996 / 0.99994 (asserted)."""
    users, temperature, alpha = 20000, 0.5, 1e-3
    row = np.array([0.1, 0.3, 0.5, 0.7, 0.9])

    def softmax(t):
        return np.exp(row / t) / np.exp(row / t).sum()

    for wrong in (1.1 * temperature, 0.9 * temperature):
        assert chi_square_power(softmax(temperature), softmax(wrong), users, alpha) >= 0.99
    scores = fixed_scores(np.tile(row, (users, 1)))
    slates, _ = run("boltzmann", scores, random_features(63, 5), 1, key=64, temperature=0.5)
    counts = np.bincount(slates[:, 0], minlength=5)
    expected = users * softmax(temperature)
    statistic = np.sum((counts - expected) ** 2 / expected)
    assert statistic < stats.chi2.isf(alpha, 4), (counts, expected)


# --------------------------------------------------------------------------------------------
# ucb
# --------------------------------------------------------------------------------------------


def test_ucb_beta_zero_is_greedy():
    scores = random_scores(70)
    slates, explored = run("ucb", scores, random_features(71), K, beta=0.0)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.mean, K))
    assert not explored.any()


def test_ucb_hand_example():
    # mean + β · std with β = 2: [0.9, 0.8, 0.7, 0.2 + 2 · 0.5 = 1.2] -> item 3 first, then 0.
    scores = fixed_scores([[0.9, 0.8, 0.7, 0.2]], std=[[0.0, 0.0, 0.0, 0.5]])
    features = jnp.eye(4)
    slates, explored = run("ucb", scores, features, 2, beta=2.0)
    np.testing.assert_array_equal(slates, [[3, 0]])
    np.testing.assert_array_equal(explored, [[True, False]])  # greedy top-2 is {0, 1}
    # β = 1: item 3 scores 0.7, ties below 0.8: the slate stays greedy.
    slates, explored = run("ucb", scores, features, 2, beta=1.0)
    np.testing.assert_array_equal(slates, [[0, 1]])
    assert not explored.any()


# --------------------------------------------------------------------------------------------
# thompson
# --------------------------------------------------------------------------------------------


def test_thompson_is_top_k_of_sample():
    scores = random_scores(80)
    slates, explored = run("thompson", scores, random_features(81), K, key=82)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.sample, K))
    np.testing.assert_array_equal(explored, outside_greedy(slates, scores.mean))
    assert explored.any()
    # When the sample is the mean, Thompson is greedy.
    slates, explored = run("thompson", fixed_scores(scores.mean), random_features(81), K)
    np.testing.assert_array_equal(slates, greedy_top_k(scores.mean, K))
    assert not explored.any()


# --------------------------------------------------------------------------------------------
# random
# --------------------------------------------------------------------------------------------


def test_random_is_uniform_and_all_explored():
    """n = 50,000 slates, α = 0.001 per position (χ², df = 9, expected 1 / N): one item's
    probability off by 10 % fails it with power 0.998 (asserted in the helper)."""
    users, n_items, k = 50000, 10, 3
    scores = random_scores(90, users=users, n_items=n_items)
    slates, explored = run("random", scores, random_features(91, n_items), k, key=92)
    assert_valid(slates, explored, users, n_items, k)
    assert explored.all()
    assert_uniform_per_position(slates, n_items)
    # It ignores the model: different keys give different slates for the same scores.
    other, _ = run("random", scores, random_features(91, n_items), k, key=93)
    assert np.mean(np.all(other == slates, axis=1)) < 0.05


# --------------------------------------------------------------------------------------------
# Config validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "slate_size", "message"),
    [
        (EpsilonGreedyConfig(epsilon=1.5), None, "exploration.epsilon=1.5"),
        (EpsilonGreedyConfig(epsilon=-0.1), None, "exploration.epsilon=-0.1"),
        (EpsilonGreedyConfig(epsilon=0.1, epsilon_min=0.2), None, "exploration.epsilon_min=0.2"),
        (EpsilonGreedyConfig(decay=0.0), None, "exploration.decay=0.0"),
        (EpsilonGreedyConfig(decay=1.1), None, "exploration.decay=1.1"),
        (BoltzmannConfig(temperature=0), None, "exploration.temperature=0"),
        (BoltzmannConfig(temperature=float("nan")), None, "exploration.temperature"),
        (DiversityConfig(relevance_weight=-0.1), None, "exploration.relevance_weight=-0.1"),
        (DiversityConfig(relevance_weight=1.2), None, "exploration.relevance_weight=1.2"),
        (UCBConfig(beta=-1), None, "exploration.beta=-1"),
        (UncertaintyConfig(n_query=6), 5, "exploration.n_query=6"),
        (UncertaintyConfig(n_query=-1), 5, "exploration.n_query=-1"),
        (UncertaintyConfig(n_query=1.5), 5, "exploration.n_query=1.5"),
        (UncertaintyConfig(threshold=-0.1), 5, "exploration.threshold=-0.1"),
    ],
)
def test_invalid_configs_raise_with_key(config, slate_size, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config.validate(slate_size=slate_size)


def test_validate_uses_prefix_and_make_validates():
    with pytest.raises(ConfigError, match=r"agent\.exploration\.beta=-1"):
        UCBConfig(beta=-1).validate(prefix="agent.exploration")
    with pytest.raises(ConfigError, match=r"exploration\.temperature"):
        REGISTRY["boltzmann"].make(BoltzmannConfig(temperature=0.0), SPEC)
    with pytest.raises(ConfigError, match=r"exploration\.epsilon=2"):
        REGISTRY["epsilon_greedy"].make(EpsilonGreedyConfig(epsilon=2.0), SPEC)
    UncertaintyConfig(n_query=5).validate(slate_size=5)  # the bound itself is allowed
    with pytest.raises(ConfigError, match=r"exploration\.n_query=6 .*\(env\.slate_size\)"):
        REGISTRY["uncertainty"].make(UncertaintyConfig(n_query=K + 1), SPEC)  # bound from spec
