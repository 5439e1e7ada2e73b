"""`popularity` (position-debiased click rates, forced exploration of cold items) and the old
`popularity_clicks`: hand-computed estimates, the cold-item rule, convergence, forgetting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
from agents.popularity import (
    PopularityClicksState,
    PopularityConfig,
    click_rates,
    examination,
)
from recsim.core import loop
from recsim.core.types import Feedback
from recsim.core.validation import ConfigError
from tests.conftest import SEEDS, at_step, simulation, small_env


class Jitted:
    """An agent whose act and update are jitted (one compile, not one per op and call)."""

    def __init__(self, agent):
        self.init, self.forget = agent.init, agent.forget
        self.act, self.update = jax.jit(agent.act), jax.jit(agent.update)


def make(name="popularity", **knobs):
    env, env_params = small_env()
    entry = agents.REGISTRY[name]
    agent, params = entry.make(entry.config_class(**knobs), env.spec)
    obs = env.observe(jax.random.key(1), env.init(jax.random.key(0), env_params), env_params)
    return Jitted(agent), params, obs


def two_updates(agent, params):
    """Step 0 (nothing cold yet): items 0, 1, 2 in slots 0, 1, 2 to 8 users, clicked 4, 2 and 1
    times. Step 1 (every unseen item cold, exploration slot 1 mod 3 = 1): items 0, 5, 1,
    clicked 4, 3 and 0 times."""
    state = agent.init(jax.random.key(0), params)
    clicks = np.zeros((8, 3), np.int32)
    clicks[:4, 0], clicks[:2, 1], clicks[:1, 2] = 1, 1, 1
    slates = jnp.array([[0, 1, 2]] * 8)
    state = agent.update(None, state, None, slates, Feedback(clicks=jnp.array(clicks)), params)
    clicks = np.zeros((8, 3), np.int32)
    clicks[:4, 0], clicks[:3, 1] = 1, 1
    slates = jnp.array([[0, 5, 1]] * 8)
    return agent.update(None, state, None, slates, Feedback(clicks=jnp.array(clicks)), params)


def test_estimates_worked_out_by_hand():
    agent, params, _ = make(prior_mean=0.0, prior_strength=1.0, cold_impressions=8.0)
    state = two_updates(agent, params)
    np.testing.assert_array_equal(state.clicks[:6], [8, 2, 1, 0, 0, 3])
    shown = [[16, 0, 0], [0, 8, 8], [0, 0, 8], [0, 8, 0]]  # n_ij of items 0, 1, 2, 5
    np.testing.assert_array_equal(np.asarray(state.impressions)[[0, 1, 2, 5]], shown)
    # Only step 1 explored (slot 1, item 5): x = (0, 8, 0), e = (0, 3, 0);
    # ρ = (1/1, 4/9, 1/1), κ̂ = ρ / ρ_0 = (1, 4/9, 1).
    np.testing.assert_array_equal(state.explored_impressions, [0, 8, 0])
    np.testing.assert_array_equal(state.explored_clicks, [0, 3, 0])
    assert all(x.dtype == jnp.int32 for x in jax.tree.leaves(state))  # exact past 2^24
    np.testing.assert_allclose(examination(state), [1.0, 4 / 9, 1.0], rtol=1e-6)
    # â_i = c_i / (Σ_j κ̂_j n_ij + 1): 8/17, 2/(32/9 + 9), 1/9, 3/(32/9 + 1); unseen 0.
    rates = np.asarray(click_rates(state, params))
    expected = {0: 8 / 17, 1: 18 / 113, 2: 1 / 9, 5: 27 / 41, 3: 0.0}
    np.testing.assert_allclose([rates[i] for i in expected], list(expected.values()), rtol=1e-6)
    # The prior: an unseen item has â = μ; s pseudo-impressions of it.
    strong = params.replace(prior_mean=jnp.float32(0.25), prior_strength=jnp.float32(4.0))
    rates = np.asarray(click_rates(state, strong))
    np.testing.assert_allclose(rates[[0, 3]], [(8 + 1) / (16 + 4), 0.25], rtol=1e-6)


def test_a_cold_item_takes_the_exploration_slot_and_the_rest_is_the_best_warm_items():
    agent, params, obs = make(cold_impressions=8.0)
    state = two_updates(agent, params)  # t = 2: cold while n_i < 8 ln 3 ≈ 8.8: all but 0 and 1
    explored_items = set()
    for seed in range(20):
        slates, info = agent.act(jax.random.key(seed), state, at_step(obs, 2), params)
        slates = np.asarray(slates)
        assert np.all(slates == slates[0])  # one slate for everyone
        assert slates[0, :2].tolist() == [0, 1]  # the warm items, best first
        assert slates[0, 2] not in (0, 1, 2, 5)  # slot 2 mod 3: an item never shown
        explored_items.add(int(slates[0, 2]))
        np.testing.assert_array_equal(info.explored, [[False, False, True]] * 8)
        np.testing.assert_allclose(info.scores[0], click_rates(state, params))
    assert len(explored_items) > 5  # the 26 unseen items tie: broken at random
    # At t = 3 the cold item is inserted at slot 0, the warm ones shift down.
    slates, _ = agent.act(jax.random.key(0), state.replace(step=jnp.int32(3)), obs, params)
    assert slates[0, 1:].tolist() == [0, 1] and slates[0, 0] not in (0, 1, 2, 5)
    # m = 0: nothing is ever cold, the slate is the top 3 by â (5, 0, 1), nothing explored.
    greedy = params.replace(cold_impressions=jnp.float32(0.0))
    slates, info = agent.act(jax.random.key(0), state, obs, greedy)
    assert slates[0].tolist() == [5, 0, 1] and not np.any(info.explored)


def test_all_ties_at_the_start_are_broken_at_random():
    agent, params, obs = make()
    state = agent.init(jax.random.key(0), params)
    firsts = {int(agent.act(jax.random.key(s), state, obs, params)[0][0, 0]) for s in range(20)}
    assert len(firsts) > 5


def test_recycled_ids_are_forgotten_and_explored_again():
    agent, params, obs = make()
    state = two_updates(agent, params)
    fresh = obs.replace(
        item_age=jnp.full((30,), 7, jnp.int32).at[0].set(0), step=jnp.int32(5)
    )  # item 0, the best warm item, was replaced by a new item
    forgotten = agent.forget(state, fresh)
    assert forgotten.clicks[0] == 0 and not np.any(forgotten.impressions[0])
    assert forgotten.clicks[5] == 3 and forgotten.impressions[1].sum() == 16
    # only item 0 is cleared: the counts of two_updates otherwise, position statistics kept
    np.testing.assert_array_equal(forgotten.clicks, [0, 2, 1, 0, 0, 3] + [0] * 24)
    impressions = np.zeros((30, 3), int)
    impressions[[1, 2, 5]] = [[0, 8, 8], [0, 0, 8], [0, 8, 0]]
    np.testing.assert_array_equal(forgotten.impressions, impressions)
    np.testing.assert_array_equal(forgotten.explored_impressions, [0, 8, 0])
    np.testing.assert_array_equal(forgotten.explored_clicks, [0, 3, 0])
    assert forgotten.step == 2
    # `update` forgets too, before adding its step: id 0 keeps only this step's impressions.
    slates = jnp.array([[3, 4, 0]] * 8)
    updated = agent.update(None, state, fresh, slates, Feedback(jnp.zeros((8, 3), int)), params)
    assert updated.clicks[0] == 0 and updated.impressions[0].tolist() == [0, 0, 8]
    assert updated.clicks[5] == 3 and updated.impressions[3].tolist() == [8, 0, 0]
    slates, _ = agent.act(jax.random.key(0), state.replace(step=jnp.int32(5)), fresh, params)
    assert 0 not in slates[0, :2].tolist()  # no longer the best warm item …
    fresh_ones = {
        int(agent.act(jax.random.key(s), state.replace(step=jnp.int32(5)), fresh, params)[0][0, 2])
        for s in range(40)
    }
    assert 0 in fresh_ones  # … but as cold as the unseen items: it takes the exploration slot


def test_config_errors_name_key_value_and_range():
    with pytest.raises(ConfigError, match=r"agent.prior_mean=1.5 is out of range: allowed \[0"):
        PopularityConfig(prior_mean=1.5).validate()
    with pytest.raises(ConfigError, match=r"agent.prior_strength=0.0 is out of range"):
        PopularityConfig(prior_strength=0.0).validate()
    with pytest.raises(ConfigError, match=r"agent.cold_impressions=-1 is out of range"):
        PopularityConfig(cold_impressions=-1).validate()
    PopularityConfig(prior_mean=0.0, cold_impressions=0.0).validate()  # the closed ends
    PopularityConfig(prior_mean=1.0, cold_impressions=0.5).validate()


def test_popularity_clicks_keeps_the_old_counts_of_own_clicks():
    agent, params, obs = make("popularity_clicks")
    clicks = jnp.zeros(30, jnp.int32).at[jnp.array([7, 3])].set(jnp.array([5, 9]))
    third = set()
    for seed in range(30):
        slates, _ = agent.act(jax.random.key(seed), PopularityClicksState(clicks), obs, params)
        assert np.all(slates[:, 0] == 3) and np.all(slates[:, 1] == 7)
        third.add(int(slates[0, 2]))
    assert len(third) > 5
    state = agent.init(jax.random.key(0), params)
    slates = jnp.array([[0, 1, 2], [2, 1, 0]] + [[3, 4, 5]] * 6)
    clicks = jnp.array([[1, 0, 1], [1, 1, 0]] + [[0, 0, 0]] * 6)
    state = agent.update(None, state, None, slates, Feedback(clicks=clicks), params)
    np.testing.assert_array_equal(state.clicks[:6], [1, 1, 2, 0, 0, 0])
    assert state.clicks.dtype == jnp.int32  # exact counts past 2^24
    # What it reports: its counts as every user's scores, no uncertainty, nothing explored.
    _, info = agent.act(jax.random.key(0), state, obs, params)
    np.testing.assert_array_equal(info.scores, np.tile(np.asarray(state.clicks, float), (8, 1)))
    np.testing.assert_array_equal(info.uncertainty, np.zeros((8, 30)))
    assert info.explored.dtype == bool and not np.any(info.explored)
    # A recycled id (age 0 after step 0) restarts with no clicks, in act and in update.
    fresh = obs.replace(item_age=jnp.full((30,), 7, jnp.int32).at[2].set(0), step=jnp.int32(5))
    _, info = agent.act(jax.random.key(0), state, fresh, params)
    np.testing.assert_array_equal(info.scores[0, :3], [1, 1, 0])
    none = jnp.zeros((8, 3), jnp.int32)
    updated = agent.update(None, state, fresh, slates, Feedback(clicks=none), params)
    np.testing.assert_array_equal(updated.clicks[:6], [1, 1, 0, 0, 0, 0])


def test_the_explored_item_is_never_one_the_slate_already_shows():
    """Every item cold (n_i < 8 ln 3 at t = 2) and the best two by â among the least shown:
    the coldest item *outside* the top k − 1 takes the exploration slot, not item 1."""
    agent, params, obs = make(cold_impressions=8.0)
    state = agent.init(jax.random.key(0), params)
    impressions = jnp.zeros((30, 3), jnp.int32).at[:, 0].set(5)  # every item 5 impressions …
    impressions = impressions.at[1, 0].set(1).at[2, 0].set(2).at[3, 0].set(3)  # … but 1, 2, 3
    # â: 2/3 (item 2), 1/2 (item 1), 1/4 (item 3: third, the first outside the top k − 1)
    clicks = jnp.zeros(30, jnp.int32).at[1].set(1).at[2].set(2).at[3].set(1)
    state = state.replace(clicks=clicks, impressions=impressions, step=jnp.int32(2))
    slates, info = agent.act(jax.random.key(0), state, at_step(obs, 2), params)
    assert slates[0].tolist() == [2, 1, 3]  # slot 2 mod 3: item 3, the coldest of the others
    np.testing.assert_array_equal(info.explored[0], [False, False, True])


def test_the_ranking_converges_to_the_population_attraction(static_world):
    sim, params = simulation("popularity", **static_world)
    carry, _ = loop.rollout(sim, params, master_seed=0, seed=0, steps=300)
    truth = np.asarray(sim.env.population_attraction(carry.env_state, params.env))
    rates = np.asarray(click_rates(carry.agent_state, params.agent))
    assert np.corrcoef(np.argsort(np.argsort(rates)), np.argsort(np.argsort(truth)))[0, 1] > 0.8
    top = set(np.argsort(-truth)[:6].tolist())
    assert len(top & set(np.argsort(-rates)[:3].tolist())) >= 2  # best 3 among the true best 6
    assert np.mean(np.abs(rates - truth)) < 0.1
    # κ̂ recovers the position-based examination κ_j = 1 / log2(j + 2) of the env.
    kappa = 1 / np.log2(np.arange(3) + 2)
    np.testing.assert_allclose(examination(carry.agent_state), kappa, atol=0.2)


@pytest.mark.slow
def test_far_more_coverage_and_clicks_than_counting_own_clicks(static_world):
    final = {}
    for name in ("popularity", "popularity_clicks", "best_fixed"):
        sim, params = simulation(name, **static_world)
        rows = loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=400).rows
        final[name] = rows["expected_ctr"][:, -4:].mean(), rows["coverage"][:, -1].mean()
    assert final["popularity"][1] == 1.0 and final["popularity_clicks"][1] < 0.3
    assert final["popularity"][0] > final["popularity_clicks"][0] + 0.05
    assert final["popularity"][0] > 0.9 * final["best_fixed"][0]
