"""Baseline agents: valid slates, the oracle's optimality, random's uniformity, popularity."""

import jax
import numpy as np
import pytest
from scipy import stats

import agents
from agents.exploration.uniform import uniform_slates
from recsim.core import keys as keylib
from recsim.core import loop
from tests.conftest import SEEDS, simulation
from tests.power import chi_square_power, one_cell_off


@pytest.mark.parametrize("name", sorted(agents.REGISTRY))
def test_every_agent_returns_distinct_valid_items(name):
    sim, params = simulation(name)
    _, tr = loop.rollout(sim, params, master_seed=0, seed=0, steps=30)
    slates = np.asarray(tr.slates)  # [T, U, k]
    assert slates.shape == (30, sim.env.spec.users_per_step, sim.env.spec.slate_size)
    assert slates.min() >= 0 and slates.max() < sim.env.spec.n_items
    ordered = np.sort(slates, axis=-1)
    assert np.all(ordered[..., 1:] != ordered[..., :-1])


def test_oracle_has_zero_regret_and_perfect_precision():
    sim, params = simulation("oracle")
    rows = loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=40).rows
    assert np.all(rows["regret"] == 0.0)
    assert np.all(rows["cum_regret"] == 0.0)
    assert np.all(rows["precision_at_k"] == 1.0)
    np.testing.assert_allclose(rows["ndcg_at_k"], 1.0, rtol=1e-6)
    # Its model is the truth: as fair as possible (issue 10 item 6) and a perfect ranking.
    assert np.all(rows["excess_group_gap"] == 0.0)
    assert np.all(rows["prediction_mae"] == 0.0)
    np.testing.assert_allclose(rows["preference_spearman"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(rows["greedy_ndcg"], 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["oracle", "best_fixed"])
def test_the_truth_baselines_report_what_they_know(name):
    """Their slate is a function of the truth: every slot has propensity 1 (the interactions
    log and off-policy estimators read it), none is explored, σ = 0; the oracle's scores are
    the attraction, best_fixed's the population's mean attraction for every user."""
    sim, params = simulation(name)
    _, tr = loop.rollout(sim, params, master_seed=0, seed=0, steps=3)
    for propensity in (tr.info.propensity, tr.info.slot_propensity):
        assert propensity is not None and propensity.shape == tr.slates.shape
        np.testing.assert_array_equal(propensity, 1.0)
    assert tr.info.explored.dtype == bool and tr.info.explored.shape == tr.slates.shape
    assert not np.asarray(tr.info.explored).any()
    np.testing.assert_array_equal(tr.info.uncertainty, 0.0)
    truth = tr.truth.attraction if name == "oracle" else tr.truth.population_attraction[:, None]
    np.testing.assert_array_equal(tr.info.scores, np.broadcast_to(truth, tr.info.scores.shape))


def test_oracle_beats_popularity_beats_random():
    ctr = {}
    for name in ("oracle", "popularity", "random"):
        sim, params = simulation(name)
        rows = loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=200).rows
        ctr[name] = rows["expected_ctr"][:, -10:].mean()
    assert ctr["oracle"] > ctr["popularity"] > ctr["random"]


def test_random_slates_are_uniform_over_items_and_positions():
    """n = 50,000 slates, χ² against 1 / N at each position, α = 0.001, df = 9: one item's
    probability 10 % off (0.1 → 0.11 or 0.09, the others sharing the difference) fails it with
    power ≥ 0.997 (asserted; 20,000 slates had power 0.59)."""
    n_items, k, users, alpha = 10, 3, 50000, 1e-3
    for factor in (1.1, 0.9):
        assert chi_square_power(*one_cell_off(n_items, factor), users, alpha) >= 0.99, factor
    slates = np.asarray(uniform_slates(jax.random.key(0), users, n_items, k))
    for position in range(k):
        counts = np.bincount(slates[:, position], minlength=n_items)
        expected = users / n_items
        chi2 = np.sum((counts - expected) ** 2 / expected)
        assert chi2 < stats.chi2.isf(alpha, n_items - 1)  # 27.88


def test_baselines_are_exactly_the_agents_that_do_not_explore():
    for name in agents.REGISTRY:
        sim, _ = simulation(name)
        assert (name in agents.BASELINES) == (not sim.agent.explores), name
        assert isinstance(sim.agent, agents.ScoringAgent) == sim.agent.explores, name


def test_best_fixed_shows_everyone_the_top_k_of_the_population_mean_attraction():
    sim, params = simulation("best_fixed", boredom_penalty=0.0)
    carry, tr = loop.rollout(sim, params, master_seed=0, seed=0, steps=3)
    env = sim.env
    world_key = keylib.simulation_keys(jax.random.key(0), 0).world
    state = env.init(world_key, params.env)
    # NumPy, from the hidden world: a = σ(α⟨u, v⟩ + b) for every user and item, averaged over
    # users with their arrival weights π = softmax(activity).
    logits = float(params.env.click_scale) * np.asarray(state.user_vecs @ state.item_vecs.T)
    weights = np.exp(np.asarray(state.user_activity, np.float64))
    weights /= weights.sum()
    mean = weights @ (1 / (1 + np.exp(-(logits + np.asarray(state.item_bias)))))
    k = env.spec.slate_size
    expected = np.argsort(-mean)[:k]
    slates = np.asarray(tr.slates[0])
    assert np.all(slates == expected[None, :])
    # Among fixed slates it is the best for the population under pbm: no random fixed slate
    # has more population-mean expected clicks Σ_j κ_j ā_{s_j}.
    kappa = 1.0 / np.log2(np.arange(k) + 2.0)
    best = kappa @ mean[expected]
    rng = np.random.default_rng(0)
    others = [kappa @ mean[rng.permutation(len(mean))[:k]] for _ in range(2000)]
    assert best >= max(others)


def test_best_fixed_ends_between_random_and_oracle():
    ctr = {}
    for name in ("oracle", "best_fixed", "random"):
        sim, params = simulation(name)
        ctr[name] = (
            loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=40).rows["expected_ctr"].mean()
        )
    assert ctr["random"] < ctr["best_fixed"] < ctr["oracle"]
