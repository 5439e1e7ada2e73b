"""Each strategy's propensities against the frequencies of its own draws.

For every strategy with a `Propensity`: the chain probabilities of all ordered slates sum to
1 per user (enumerated), the slate probabilities match the empirical frequency of 40,000
draws (|p̂ − p| < 4.5 binomial se per slate, 20 slates × 3 users), and the closed-form
marginals match the empirical marginals likewise. Power: at 40,000 draws the se of a
probability near 0.1 is 0.0015, so a tolerance of 4.5 se ≈ 0.007 fails a 10% error in ε
(ε = 0.3 → kept-slot probability off by 0.03) or in the temperature (Boltzmann probabilities
off by ≥ 0.01 here)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import exploration as explorations
from agents.exploration.base import Scores, estimate_marginals

USERS, N_ITEMS, K, DRAWS = 3, 5, 2, 40_000
STEP = jnp.int32(7)
RNG = np.random.default_rng(0)
MEAN = jnp.asarray(RNG.uniform(0.0, 0.3, (USERS, N_ITEMS)), jnp.float32)
SCORES = Scores(MEAN, jnp.asarray(RNG.uniform(0.0, 0.1, (USERS, N_ITEMS)), jnp.float32), MEAN)
FEATURES = jnp.asarray(RNG.normal(size=(N_ITEMS, 3)), jnp.float32)
SLATES = np.array(list(itertools.permutations(range(N_ITEMS), K)))  # every ordered 2-slate
CONFIGS = {
    "random": {},
    "epsilon_greedy": {"epsilon": 0.3, "decay": 0.99, "epsilon_min": 0.05},
    "boltzmann": {"temperature": 0.1},
    "greedy": {},
    "ucb": {"beta": 2.0},
    "diversity": {"relevance_weight": 0.5},
    "uncertainty": {"n_query": 1},
}


class Spec:  # the fields `make` reads
    slate_size = K
    n_items = N_ITEMS


def strategy(name):
    entry = explorations.REGISTRY[name]
    return entry.make(entry.config_class(**CONFIGS[name]), Spec())


def slate_probabilities(exploration, params):
    """[U, number of slates]: Π_j chain_j of every ordered slate, for every user."""
    slates = jnp.asarray(np.broadcast_to(SLATES, (USERS, *SLATES.shape)))

    def of(slate_batch):  # [U, k] -> [U]
        chain = exploration.propensity.chain(slate_batch, SCORES, FEATURES, K, params, STEP)
        return jnp.prod(chain, axis=1)

    return jax.vmap(of, in_axes=1, out_axes=1)(slates)


def empirical(exploration, params):
    """(slate frequencies [U, slates], marginals [U, k, N]) of DRAWS draws."""
    keys = jax.random.split(jax.random.key(42), DRAWS)
    draw = jax.vmap(lambda key: exploration.select(key, SCORES, FEATURES, K, params, STEP)[0])
    slates = np.asarray(jax.jit(draw)(keys))  # [D, U, k]
    index = slates[..., 0] * N_ITEMS + slates[..., 1]  # [D, U]
    codes = SLATES[:, 0] * N_ITEMS + SLATES[:, 1]
    frequencies = (index[:, :, None] == codes[None, None, :]).mean(axis=0)
    marginals = np.eye(N_ITEMS)[slates].mean(axis=0)
    return frequencies, marginals


def implied_marginals(slate_probabilities: np.ndarray) -> np.ndarray:
    """P(a at j) [U, k, N]: the probabilities [U, slates] of every slate with a at j, summed."""
    shown = np.eye(N_ITEMS)[SLATES]  # [slates, k, N]
    return np.einsum("us,skn->ukn", slate_probabilities, shown)


def close(observed, expected, draws=DRAWS):
    se = np.sqrt(np.clip(expected * (1 - expected), 1e-12, None) / draws)
    return np.abs(observed - expected) < 4.5 * se + 1e-6


def test_every_strategy_but_thompson_states_its_propensity():
    """Thompson's randomness is the model's posterior draw, not the strategy's own key."""
    for name in explorations.REGISTRY:
        exploration, _ = explorations.REGISTRY[name].make(
            explorations.REGISTRY[name].config_class(), Spec())  # fmt: skip
        assert (exploration.propensity is None) == (name == "thompson"), name


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_chain_is_a_distribution_over_every_ordered_slate(name):
    exploration, params = strategy(name)
    probabilities = np.asarray(slate_probabilities(exploration, params), np.float64)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_slate_probabilities_and_marginals_match_the_strategys_own_draws(name):
    exploration, params = strategy(name)
    expected = np.asarray(slate_probabilities(exploration, params), np.float64)
    frequencies, marginals = empirical(exploration, params)
    assert close(frequencies, expected).all(), np.abs(frequencies - expected).max()
    if exploration.propensity.marginals is not None:
        closed = exploration.propensity.marginals(SCORES, FEATURES, K, params, STEP)
        closed = np.asarray(closed, np.float64)
        assert close(marginals, closed).all(), np.abs(marginals - closed).max()
    # the slate probabilities summed per (position, item) are the marginals too
    assert close(marginals, implied_marginals(expected)).all()


def test_epsilon_greedy_by_hand():
    """ε_7 = max(0.05, 0.3 · 0.99⁷); greedy slate g, N − k = 3 outside items."""
    exploration, params = strategy("epsilon_greedy")
    epsilon = max(0.05, 0.3 * 0.99**7)
    greedy = np.argsort(-np.asarray(MEAN), axis=1, kind="stable")[:, :K]
    outside = [next(a for a in range(N_ITEMS) if a not in greedy[u]) for u in range(USERS)]
    kept_then_explored = jnp.asarray([[greedy[u, 0], outside[u]] for u in range(USERS)])
    chain = exploration.propensity.chain(kept_then_explored, SCORES, FEATURES, K, params, STEP)
    np.testing.assert_allclose(chain, [[1 - epsilon, epsilon / 3]] * USERS, rtol=1e-5)
    swapped = jnp.asarray(greedy[:, ::-1].copy())  # greedy items in the wrong slots
    assert np.all(np.asarray(exploration.propensity.chain(
        swapped, SCORES, FEATURES, K, params, STEP)) == 0)  # fmt: skip


def test_boltzmann_chain_by_hand():
    exploration, params = strategy("boltzmann")
    weights = np.exp(np.asarray(MEAN, np.float64) / 0.1)
    first = weights[:, 0] / weights.sum(axis=1)
    second = weights[:, 3] / (weights.sum(axis=1) - weights[:, 0])
    slates = jnp.asarray([[0, 3]] * USERS)
    chain = exploration.propensity.chain(slates, SCORES, FEATURES, K, params, STEP)
    np.testing.assert_allclose(chain, np.stack([first, second], axis=1), rtol=1e-5)


def test_monte_carlo_marginals_of_boltzmann():
    exploration, params = strategy("boltzmann")
    key = jax.random.key(1)
    estimated = estimate_marginals(exploration.select, key, SCORES, FEATURES, K, params, STEP,
                                   DRAWS)  # fmt: skip
    estimated = np.asarray(estimated)
    expected = np.asarray(slate_probabilities(exploration, params), np.float64)
    assert close(estimated, implied_marginals(expected)).all()


# ---------------------------------------------------------------- in the loop


def rollout_info(agent_name, strategy_name=None, steps=6):
    from recsim.core import loop
    from tests.conftest import make_agent, small_env

    env, env_params = small_env()
    agent, agent_params = make_agent(agent_name, env.spec, strategy_name)
    simulation = loop.Simulation(env, agent, log_every=steps, windows_per_chunk=1)
    _, transitions = loop.rollout(simulation, loop.SimParams(env_params, agent_params), 0, 0, steps)
    return env.spec, transitions


def test_the_random_agent_reports_the_uniform_chain_for_every_slot():
    spec, transitions = rollout_info("random")
    propensity = np.asarray(transitions.info.propensity)  # [T, U, k]
    expected = 1.0 / (spec.n_items - np.arange(spec.slate_size))
    np.testing.assert_allclose(propensity, np.broadcast_to(expected, propensity.shape),
                               rtol=1e-6)  # fmt: skip


def test_an_epsilon_greedy_learner_reports_each_slots_probability_in_the_loop():
    """Kept slots have 1 − ε, the r-th explored slot ε / (N − k − r + 1) (ε = 0.1, constant):
    the propensity follows the slots the strategy really explored."""
    spec, transitions = rollout_info("neural", "epsilon_greedy")
    propensity = np.asarray(transitions.info.propensity)
    explored = np.asarray(transitions.info.explored)
    assert explored.any() and (~explored).any()
    rank = np.cumsum(explored, axis=-1)
    expected = np.where(explored, 0.1 / (spec.n_items - spec.slate_size - rank + 1), 0.9)
    np.testing.assert_allclose(propensity, expected, rtol=1e-5)


def test_a_thompson_learner_states_no_propensity():
    _, transitions = rollout_info("neural", "thompson", steps=2)
    assert transitions.info.propensity is None
