"""Each strategy's propensities against the frequencies of its own draws.

For every strategy with a `Propensity`: the chain probabilities of all ordered slates sum to
1 per user (enumerated), the slate probabilities match the empirical frequency of 40,000
draws (|p̂ − p| < 4.5 binomial se per slate, 20 slates × 3 users), and the closed-form
marginals match the empirical marginals likewise. Power: at 40,000 draws the se of a
probability near 0.1 is 0.0015, so a tolerance of 4.5 se ≈ 0.007 fails a 10% error in ε
(ε = 0.3 → kept-slot probability off by 0.03) or in the temperature (Boltzmann probabilities
off by ≥ 0.01 here). Thompson's randomness is the agent's draw of an ensemble member: its
closed forms are checked by hand and against 100,000 draws of the member."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import exploration as explorations
from agents.exploration import thompson
from agents.exploration.base import Scores, estimate_marginals
from recsim.ope.slate import at_slots

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


def test_every_strategy_states_its_propensity():
    """Thompson's too: exact from the ensemble's members (tests below), None without them."""
    for name in explorations.REGISTRY:
        exploration, _ = explorations.REGISTRY[name].make(
            explorations.REGISTRY[name].config_class(), Spec())  # fmt: skip
        assert exploration.propensity is not None, name
        # Closed-form marginals for all but Boltzmann (no closed form beyond position 1: its
        # marginals are estimated, `estimate_marginals`); a deterministic strategy's are the
        # one-hot of its slate.
        assert (exploration.propensity.marginals is None) == (name == "boltzmann"), name


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


def test_monte_carlo_marginals_give_the_strategy_its_features_and_step():
    """A slate that depends on nothing but the item features and the step: every draw is that
    slate, so the estimate is its one-hot exactly (and a strategy handed no features or no
    step fails)."""

    def by_features_and_step(key, scores, item_features, k, params, step):
        order = jnp.roll(jnp.argsort(-item_features[:, 0]), -step)  # [N]
        return jnp.broadcast_to(order[:k], (USERS, k)), jnp.zeros((USERS, k), bool)

    estimated = estimate_marginals(by_features_and_step, jax.random.key(0), SCORES, FEATURES, K,
                                   None, STEP, 8)  # fmt: skip
    order = np.roll(np.argsort(-np.asarray(FEATURES)[:, 0]), -int(STEP))
    expected = np.zeros((USERS, K, N_ITEMS))
    for j in range(K):
        expected[:, j, order[j]] = 1.0
    np.testing.assert_array_equal(np.asarray(estimated), expected)


# ---------------------------------------------------------------- Thompson over an ensemble

E, T_ITEMS, T_K, T_DRAWS = 5, 6, 3, 100_000


def ensemble_scores(orders, ties=False) -> Scores:
    """Scores whose member m ranks the items in `orders[u][m]` (best first) for user u: score
    1 − 0.1·rank, plus noise below the rank gaps; `ties`: member 4 scores its first two items
    exactly alike."""
    rng = np.random.default_rng(1)
    ranks = np.argsort(np.asarray(orders), axis=-1)  # [U, E, N]: the rank of each item
    members = 1.0 - 0.1 * ranks + rng.uniform(0.0, 0.01, ranks.shape)
    if ties:
        for u, user_orders in enumerate(orders):
            first, second = user_orders[4][:2]
            members[u, 4, second] = members[u, 4, first]
    members = jnp.asarray(members.transpose(1, 0, 2), jnp.float32)  # [E, U, N]
    mean = jnp.mean(members, axis=0)
    return Scores(mean, jnp.std(members, axis=0), members[0], members)


# member 0's top-3 is 0, 1, 2; member 1 shares its first two items, member 2 its whole slate
# (ranking the rest otherwise); member 3 starts elsewhere; member 4 ties its first two items
ORDERS = [[0, 1, 2, 3, 4, 5], [0, 1, 3, 2, 4, 5], [0, 1, 2, 5, 4, 3], [4, 0, 1, 2, 3, 5],
          [5, 3, 0, 1, 2, 4]]  # fmt: skip


def test_thompson_chain_and_marginals_by_hand():
    """P(0 first) = 3/5, then 1 surely, then 2 with 2/3 and 3 with 1/3; member 4's tie at the
    top goes to the lower id, 3 before 5, as `select` breaks it."""
    scores = ensemble_scores([ORDERS], ties=True)
    slates = jnp.asarray([[0, 1, 2], [0, 1, 3], [4, 0, 1], [3, 5, 0], [0, 2, 1], [1, 0, 2]])
    chain = jnp.concatenate([
        thompson.chain(slate[None], scores, None, T_K, None, None) for slate in slates
    ])  # fmt: skip
    expected = [[3 / 5, 1, 2 / 3], [3 / 5, 1, 1 / 3], [1 / 5, 1, 1], [1 / 5, 1, 1],
                [3 / 5, 0, 0], [0, 0, 0]]  # fmt: skip
    np.testing.assert_allclose(chain, expected, rtol=1e-6)
    sample = scores.replace(sample=scores.members[4])
    np.testing.assert_array_equal(thompson.select(None, sample, None, T_K, None, None)[0],
                                  [[3, 5, 0]])  # fmt: skip
    marginals = np.asarray(thompson.marginals(scores, None, T_K, None, None))[0]
    np.testing.assert_allclose(marginals[0], [3 / 5, 0, 0, 1 / 5, 1 / 5, 0], rtol=1e-6)
    np.testing.assert_allclose(marginals[1], [1 / 5, 3 / 5, 0, 0, 0, 1 / 5], rtol=1e-6)
    np.testing.assert_allclose(marginals[2], [1 / 5, 1 / 5, 2 / 5, 1 / 5, 0, 0], rtol=1e-6)


def thompson_users():
    """Three users: ORDERS relabelled by a random permutation of the items each, with ties."""
    rng = np.random.default_rng(2)
    relabel = [rng.permutation(T_ITEMS) for _ in range(3)]
    return ensemble_scores([[list(p[order]) for order in ORDERS] for p in relabel], ties=True)


def test_thompson_chain_is_a_distribution_over_every_ordered_slate():
    scores = thompson_users()
    every = np.array(list(itertools.permutations(range(T_ITEMS), T_K)))  # [120, k]
    chain = jax.vmap(lambda slate: thompson.chain(
        jnp.broadcast_to(slate, (3, T_K)), scores, None, T_K, None, None))(every)  # fmt: skip
    probabilities = np.prod(np.asarray(chain, np.float64), axis=-1)  # [slates, U]
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-6)
    assert set(np.round(5 * probabilities.ravel(), 6)) <= {0, 1, 2}  # counts of 5 members


def test_thompson_closed_forms_match_many_draws_of_the_member():
    """The agent's draw (one member per user, uniform) then `select`, 100,000 times: the
    frequency of every prefix of every member's slate (and of slates no member has) and the
    marginals against the closed forms, within 4.5 binomial se."""
    scores = thompson_users()
    users = scores.mean.shape[0]

    def draw(key):
        member = jax.random.randint(key, (users,), 0, E)
        sample = scores.members[member, jnp.arange(users)]
        return thompson.select(None, scores.replace(sample=sample), None, T_K, None, None)[0]

    keys = jax.random.split(jax.random.key(3), T_DRAWS)
    drawn = np.asarray(jax.jit(jax.vmap(draw))(keys))  # [D, U, k]
    candidates = np.concatenate([
        np.asarray(thompson.member_slates(scores.members, T_K)),  # [E, U, k]
        np.broadcast_to([[5, 4, 3], [2, 3, 1]], (users, 2, T_K)).transpose(1, 0, 2),
    ])  # fmt: skip
    closed_chain = jax.jit(thompson.chain, static_argnums=3)
    for slate in candidates:  # [U, k]
        expected = np.cumprod(np.asarray(closed_chain(slate, scores, None, T_K, None, None),
                                         np.float64), axis=1)  # fmt: skip
        matches = np.cumprod(drawn == slate[None], axis=2).mean(axis=0)  # [U, k]
        assert close(matches, expected, T_DRAWS).all(), np.abs(matches - expected).max()
    closed = jax.jit(thompson.marginals, static_argnums=2)(scores, None, T_K, None, None)
    frequencies = np.eye(T_ITEMS)[drawn].mean(axis=0)
    assert close(frequencies, np.asarray(closed, np.float64), T_DRAWS).all()


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


def test_a_neural_thompson_learner_reports_its_ensembles_propensity_in_the_loop():
    """The reported chain and slot marginals are the closed forms on the agent's own scores,
    and the shown slate is one member's top-k: every prefix probability a positive multiple of
    1/E (so the draw, `select` and the closed form break ties alike)."""
    spec, transitions = rollout_info("neural", "thompson")
    info, slates = transitions.info, transitions.slates
    members = info.policy_scores.members  # [T, E, U, N]
    assert members.shape[:2] == (6, 5) and members.shape[3] == spec.n_items

    def closed(slates, scores):
        inputs = (scores, None, spec.slate_size, None, None)
        marginals = thompson.marginals(*inputs)
        return thompson.chain(slates, *inputs), at_slots(marginals, slates)

    chain, slot = jax.vmap(closed)(slates, info.policy_scores)
    propensity = np.asarray(info.propensity)
    assert np.isfinite(propensity).all() and (propensity < 1).any()
    np.testing.assert_allclose(propensity, chain, rtol=1e-6)
    np.testing.assert_allclose(info.slot_propensity, slot, rtol=1e-6)
    prefix = 5 * np.cumprod(propensity, axis=-1)  # E · P(s_1..s_j): a member count
    np.testing.assert_allclose(prefix, np.round(prefix), atol=1e-4)
    assert (np.round(prefix) >= 1).all()


def test_a_lints_learner_reports_no_propensity():
    """A Gaussian posterior draw: no members, so no closed form — and no NaN in the loop."""
    _, transitions = rollout_info("lints", "thompson", steps=2)
    assert transitions.info.policy_scores.members is None
    assert transitions.info.propensity is None and transitions.info.slot_propensity is None
