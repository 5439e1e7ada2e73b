"""What the learning agents do inside `act` and `update`, not only what a strategy function
does given scores (issue 17 item 3): Thompson draws one ensemble member per user, uniformly;
the bootstrap weights are Bernoulli(0.5), one per example and member; UCB's β and Boltzmann's
temperature reach the slates the agent shows.

Expected values come from formulas written here (top-k by NumPy's sort, the softmax of the
agent's reported means), never from the code under test. Each frequency test states its sample
size and checks, with the noncentral χ² (or the normal approximation of a binomial), that it
has ≥ 99 % power against a 10 % error in the parameter it tests at its significance level.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from recsim.core.types import Feedback
from tests.conftest import at_step
from tests.power import chi_square_power, rate_power
from tests.test_neural import build

ALPHA = 1e-3  # significance level of every frequency test below


def chi_square_p(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(stats.chisquare(counts, counts.sum() * expected).pvalue)


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """[..., k] indices of the k largest values, largest first (ties: lower index first)."""
    return np.argsort(-values, axis=-1, kind="stable")[..., :k]


def acts(strategy: str, draws: int, **exploration):
    """(slates [draws, U, k], ActInfo batched over draws) of the untrained neural agent acting
    on one observation with `draws` keys; `exploration` replaces the strategy's traced knobs."""
    agent, params, obs = build(strategy)
    params = params.replace(exploration=params.exploration.replace(**exploration))
    state = agent.init(jax.random.key(0), params)
    act = jax.jit(jax.vmap(lambda key: agent.act(key, state, obs, params)))
    return act(jax.random.split(jax.random.key(11), draws))


def test_neural_thompson_shows_each_user_the_top_k_of_one_member_drawn_uniformly():
    draws = 1500
    slates, info = acts("thompson", draws)
    members = np.asarray(info.policy_scores.members)  # [D, M, U, N]
    sample = np.asarray(info.policy_scores.sample)  # [D, U, N]
    n_members, users = members.shape[1], members.shape[2]
    matches = np.all(members == sample[:, None], axis=-1)  # [D, M, U]
    assert (matches.sum(axis=1) == 1).all()  # one member's row, never the mean or a mixture
    assert not np.allclose(sample, np.asarray(info.policy_scores.mean), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(slates), top_k(sample, slates.shape[-1]))

    drawn = matches.argmax(axis=1)  # [D, U]
    # Each user draws independently: with one draw per step shared by all users, every key's
    # U draws would agree; independently that happens with probability M^(1−U) ≈ 1.3e-5.
    assert np.mean((drawn == drawn[:, :1]).all(axis=1)) < 0.01
    n = draws * users
    uniform = np.full(n_members, 1 / n_members)
    wrong = uniform.copy()
    wrong[0], wrong[1] = 0.9 / n_members, 1.1 / n_members  # one member 10 % less likely
    assert chi_square_power(uniform, wrong, n, ALPHA) >= 0.99
    counts = np.bincount(drawn.reshape(-1), minlength=n_members)
    assert chi_square_p(counts, uniform) > ALPHA, counts


def test_bootstrap_weights_are_bernoulli_half_per_example_and_member():
    agent, params, obs = build("greedy")
    state = agent.init(jax.random.key(0), params)
    users, k = obs.user_ids.shape[0], agent.spec.slate_size
    slates = jnp.tile(jnp.arange(k), (users, 1))
    feedback = Feedback(clicks=jnp.ones((users, k), jnp.int32))
    update = jax.jit(agent.update)
    steps = 40
    for step in range(steps):
        state = update(jax.random.key(step), state, at_step(obs, step), slates,
                       feedback, params)  # fmt: skip
    size = int(state.replay.size)
    assert size == steps * users * k
    weights = np.asarray(state.replay.weights[:size])  # [examples, members]
    assert set(np.unique(weights)) == {0.0, 1.0}
    n = weights.size
    # Two-sided binomial test of P(w = 1) = 0.5 at level ALPHA; its power against 0.45:
    assert rate_power(0.5, 0.45, n, stats.norm.isf(ALPHA / 2)) >= 0.99, n
    assert stats.binomtest(int(weights.sum()), n, 0.5).pvalue > ALPHA, weights.mean()
    # One coin per example and member: no two members share their coins (correlation 1).
    correlation = np.corrcoef(weights.T)[np.triu_indices(weights.shape[1], 1)]
    assert np.abs(correlation).max() < 0.2, correlation


def test_without_an_ensemble_every_example_weighs_one():
    agent, params, obs = build("greedy", uncertainty="dropout")
    state = agent.init(jax.random.key(0), params)
    users, k = obs.user_ids.shape[0], agent.spec.slate_size
    slates = jnp.tile(jnp.arange(k), (users, 1))
    feedback = Feedback(clicks=jnp.ones((users, k), jnp.int32))
    state = jax.jit(agent.update)(jax.random.key(0), state, obs, slates, feedback, params)
    np.testing.assert_array_equal(np.asarray(state.replay.weights[: users * k]), 1.0)


@pytest.mark.parametrize("beta", [0.0, 1.0, 20.0])
def test_ucb_beta_reaches_the_agents_slates(beta):
    slates, info = acts("ucb", 1, beta=jnp.float32(beta))
    mean, std = np.asarray(info.policy_scores.mean[0]), np.asarray(info.policy_scores.std[0])
    np.testing.assert_array_equal(np.asarray(slates[0]), top_k(mean + beta * std, slates.shape[-1]))


def test_ucb_beta_changes_what_the_agent_shows():
    greedy, _ = acts("ucb", 1, beta=jnp.float32(0.0))
    optimistic, info = acts("ucb", 1, beta=jnp.float32(1e4))
    assert np.any(np.asarray(greedy) != np.asarray(optimistic))
    # At β = 10⁴ the spread dominates: the first slot is each user's most uncertain item.
    np.testing.assert_array_equal(
        np.asarray(optimistic[0, :, 0]), np.argmax(np.asarray(info.policy_scores.std[0]), axis=-1)
    )


def test_boltzmann_temperature_sets_the_agents_first_slot_frequencies():
    """First-slot frequencies of one user follow softmax(m̂ / T) of the agent's reported
    means m̂, and are told apart from softmax(m̂ / 1.1 T) (a 10 % error in T)."""
    temperature = 0.02
    draws = 20_000
    slates, info = acts("boltzmann", draws, temperature=jnp.float32(temperature))
    means = np.asarray(info.policy_scores.mean[:, 0], np.float64)  # user 0's, [draws, N]
    mean = means[0]
    np.testing.assert_array_equal(means, np.tile(mean, (draws, 1)))  # the same at every draw

    def softmax(t):
        z = np.exp((mean - mean.max()) / t)
        return z / z.sum()

    expected, wrong = softmax(temperature), softmax(1.1 * temperature)
    keep = expected * draws >= 5  # χ² cells with enough expected counts; the rest pooled
    pooled = lambda p: np.append(p[keep], p[~keep].sum())  # noqa: E731
    assert chi_square_power(pooled(expected), pooled(wrong), draws, ALPHA) >= 0.99
    counts = np.bincount(np.asarray(slates[:, 0, 0]), minlength=mean.size)
    assert chi_square_p(pooled(counts), pooled(expected)) > ALPHA, counts
    hotter, _ = acts("boltzmann", draws, temperature=jnp.float32(1.1 * temperature))
    hotter_counts = np.bincount(np.asarray(hotter[:, 0, 0]), minlength=mean.size)
    assert chi_square_p(pooled(hotter_counts), pooled(expected)) < ALPHA, hotter_counts
