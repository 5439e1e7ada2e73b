"""Off-policy estimators against the exact value of the target policy.

The worlds are small and known, so the truth is exact: V(π) = E_x Σ π · (expected reward),
computed from the click model's own expected clicks. Each log is drawn afresh (20
replications, vmapped); an estimator called unbiased must have its mean over replications
within 3 standard errors of the truth (se = sd over replications / √20), and one called biased
must be more than 10 standard errors away. The replication se is printed in each assertion
message: it is the smallest bias each check detects (≈ 3 se)."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.response.cascade import Cascade
from envs.response.dcm import DCMParams
from envs.response.pbm import PositionBased
from recsim.ope import item, reward_model, slate
from recsim.ope.estimate import Z95, from_ratio, from_terms

REPLICATIONS = 20


def replicated(estimates, truth):
    """(z of the mean over replications against the truth, its se, share of 95% intervals
    that cover the truth, sd over replications / mean reported se)."""
    values = np.asarray(estimates.value, np.float64)
    se = values.std(ddof=1) / np.sqrt(values.size)
    covered = (np.asarray(estimates.low) <= truth) & (truth <= np.asarray(estimates.high))
    return (values.mean() - truth) / se, se, covered.mean(), values.std(ddof=1) / float(
        np.mean(estimates.stderr))  # fmt: skip


def assert_unbiased(name, estimates, truth):
    z, se, coverage, se_ratio = replicated(estimates, truth)
    assert abs(z) < 3, f"{name}: mean off the truth {truth:.4f} by {z:+.1f} se (se {se:.4f})"
    # The reported se is the spread the estimator really has (sd over 20 replications has a
    # relative sd of 16%), and its 95% intervals cover the truth (P(≤ 15 of 20) = 1.6% at 95%).
    assert 0.6 < se_ratio < 1.6, f"{name}: sd over replications / reported se = {se_ratio:.2f}"
    assert coverage >= 16 / 20, f"{name}: 95% intervals cover the truth in {coverage:.0%}"


# ---------------------------------------------------------------- per-round terms, by hand


def test_an_estimate_is_the_mean_of_its_terms_with_their_standard_error():
    estimate = from_terms(jnp.asarray([1.0, 2.0, 3.0, 6.0]))
    # mean 3, sd (ddof 1) = sqrt((4 + 1 + 0 + 9) / 3), se = sd / 2
    se = np.sqrt(14 / 3) / 2
    np.testing.assert_allclose(estimate, [3.0, se, 3 - Z95 * se, 3 + Z95 * se], rtol=1e-6)


def test_a_ratio_estimate_uses_the_delta_method():
    a, b = jnp.asarray([2.0, 0.0, 3.0, 1.0]), jnp.asarray([1.0, 2.0, 2.0, 1.0])
    estimate = from_ratio(a, b)
    value = 6 / 6
    linearised = (np.array([2, 0, 3, 1]) - value * np.array([1, 2, 2, 1])) / 1.5
    se = linearised.std(ddof=1) / 2
    np.testing.assert_allclose(estimate, [value, se, value - Z95 * se, value + Z95 * se],
                               rtol=1e-6)  # fmt: skip


def test_item_estimators_on_a_three_round_log_by_hand():
    actions = jnp.asarray([0, 1, 1])
    rewards = jnp.asarray([1.0, 0.0, 1.0])
    mu = jnp.asarray([0.5, 0.25, 0.25])
    target = jnp.asarray([[0.2, 0.8], [0.6, 0.4], [0.0, 1.0]])
    q_hat = jnp.asarray([[0.5, 0.1], [0.3, 0.3], [0.9, 0.2]])
    w = np.array([0.2 / 0.5, 0.4 / 0.25, 1.0 / 0.25])  # 0.4, 1.6, 4
    direct = np.array([0.2 * 0.5 + 0.8 * 0.1, 0.3, 0.2])  # 0.18, 0.3, 0.2
    np.testing.assert_allclose(item.dm(target, q_hat).value, direct.mean(), rtol=1e-6)
    np.testing.assert_allclose(item.ips(actions, rewards, mu, target).value,
                               np.mean(w * [1, 0, 1]), rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(item.snips(actions, rewards, mu, target).value,
                               (0.4 + 4) / (0.4 + 1.6 + 4), rtol=1e-6)  # fmt: skip
    residual = np.array([1 - 0.5, 0 - 0.3, 1 - 0.2])
    np.testing.assert_allclose(item.dr(actions, rewards, mu, target, q_hat).value,
                               np.mean(direct + w * residual), rtol=1e-6)  # fmt: skip
    switched = direct + np.where(w <= 2.0, w * residual, 0.0)  # the round with w = 4 is DM
    np.testing.assert_allclose(item.switch_dr(actions, rewards, mu, target, q_hat, 2.0).value,
                               switched.mean(), rtol=1e-6)  # fmt: skip
    # 1{w ≤ τ}: at τ = 4, the largest weight (exact in float32), every round keeps its
    # correction and switch-DR is DR.
    np.testing.assert_allclose(item.switch_dr(actions, rewards, mu, target, q_hat, 4.0).value,
                               np.mean(direct + w * residual), rtol=1e-6)  # fmt: skip


def test_slate_estimators_on_a_two_round_log_by_hand():
    clicks = jnp.asarray([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        slate.slate_ips(clicks, jnp.asarray([0.1, 0.2]), jnp.asarray([0.3, 0.0])).value,
        np.mean([3.0 * 1, 0.0]), rtol=1e-6)  # fmt: skip
    marginal_mu = jnp.asarray([[0.5, 0.25], [0.5, 0.5]])
    marginal_pi = jnp.asarray([[1.0, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(slate.iips(clicks, marginal_mu, marginal_pi).value,
                               np.mean([2.0 * 1, 2.0 * 1]), rtol=1e-6)  # fmt: skip
    prefix_mu = jnp.asarray([[0.5, 0.1], [0.5, 0.2]])
    prefix_pi = jnp.asarray([[1.0, 0.3], [0.0, 0.0]])
    np.testing.assert_allclose(slate.rips(clicks, prefix_mu, prefix_pi).value,
                               np.mean([2.0, 0.0]), rtol=1e-6)  # fmt: skip


# ---------------------------------------------------------------- the pseudo-inverse


def indicator(slate_items, n_items, k):
    vector = np.zeros(k * n_items)
    for position, chosen in enumerate(slate_items):
        vector[position * n_items + chosen] = 1
    return vector


@pytest.mark.parametrize(("n_items", "k"), [(5, 3), (2, 2), (1, 1)])
def test_gamma_of_the_uniform_logger_is_the_mean_of_every_slates_outer_product(n_items, k):
    """Down to the smallest catalogues: two items in two slots (each pair of slots holds the two
    items together with probability 1/2) and one item in one slot (Γ = [[1]])."""
    slates = list(itertools.permutations(range(n_items), k))
    expected = np.mean([np.outer(v, v) for v in (indicator(s, n_items, k) for s in slates)], 0)
    np.testing.assert_allclose(slate.uniform_gamma(n_items, k), expected, atol=1e-7)


def test_pseudo_inverse_weights_are_exactly_unbiased_for_additive_rewards():
    """Over every slate of the uniform logger: E_μ[w(s) r(s)] = E_π[r(s)] for r additive."""
    n_items, k = 5, 3
    rng = np.random.default_rng(0)
    slates = np.array(list(itertools.permutations(range(n_items), k)))
    target_probability = rng.dirichlet(np.ones(len(slates)))  # any distribution over slates
    theta = sum(p * indicator(s, n_items, k) for p, s in zip(target_probability, slates,
                                                              strict=True))  # fmt: skip
    marginals = np.broadcast_to(theta.reshape(k, n_items), (len(slates), k, n_items))
    weights = np.asarray(slate.pseudo_inverse_weights(
        jnp.asarray(slates), slate.uniform_gamma(n_items, k), jnp.asarray(marginals)),
        np.float64)  # fmt: skip
    phi = rng.random((k, n_items))  # r(s) = Σ_j φ(j, s_j)
    rewards = phi[np.arange(k), slates].sum(axis=1)
    np.testing.assert_allclose(np.mean(weights * rewards), target_probability @ rewards,
                               rtol=1e-4)  # fmt: skip
    # … and not for a reward with an interaction between positions
    interacting = rewards + 2.0 * (slates[:, 0] == 0) * (slates[:, 1] == 1)
    assert abs(np.mean(weights * interacting) - target_probability @ interacting) > 1e-2


# ---------------------------------------------------------------- slates against the truth

N_ITEMS, SLATE, CONTEXTS, ROUNDS = 6, 3, 3, 20_000
ATTRACTION = jnp.asarray(np.random.default_rng(1).uniform(0.1, 0.7, (CONTEXTS, N_ITEMS)),
                         jnp.float32)  # fmt: skip
TARGET = jax.lax.top_k(ATTRACTION, SLATE)[1]  # the target's slate in each context, [C, k]
MODELS = {
    "pbm": (PositionBased(), ()),
    "cascade": (Cascade(), DCMParams(continuation=jnp.zeros((), jnp.float32))),
}


def slate_log_estimates(key, model, params):
    """One log of the uniformly random logger (k distinct items out of N), and every slate
    estimator of the deterministic target `TARGET`."""
    context_key, slate_key, click_key = jax.random.split(key, 3)
    contexts = jax.random.randint(context_key, (ROUNDS,), 0, CONTEXTS)
    slates = jax.lax.top_k(jax.random.uniform(slate_key, (ROUNDS, N_ITEMS)), SLATE)[1]
    shown = jnp.take_along_axis(ATTRACTION[contexts], slates, axis=1)
    clicks = model.sample(click_key, shown, params).astype(jnp.float32)
    matches = slates == TARGET[contexts]
    target_marginal = matches.astype(jnp.float32)  # π(s_ij at j) of a deterministic π
    target_prefix = jnp.cumprod(matches, axis=1).astype(jnp.float32)
    logging_marginal = jnp.full((ROUNDS, SLATE), 1.0 / N_ITEMS)
    logging_prefix = jnp.broadcast_to(jnp.cumprod(1.0 / (N_ITEMS - jnp.arange(SLATE))),
                                      (ROUNDS, SLATE))  # fmt: skip
    theta = jax.nn.one_hot(TARGET[contexts], N_ITEMS)
    return {
        "slate_ips": slate.slate_ips(clicks, logging_prefix[:, -1], target_prefix[:, -1]),
        "iips": slate.iips(clicks, logging_marginal, target_marginal),
        "rips": slate.rips(clicks, logging_prefix, target_prefix),
        "pi": slate.pseudo_inverse(slates, clicks, slate.uniform_gamma(N_ITEMS, SLATE), theta),
    }


@functools.cache
def slate_world(name):
    """(exact value of the target under the click model, each estimator over 20 logs)."""
    model, params = MODELS[name]
    shown = jnp.take_along_axis(ATTRACTION, TARGET, axis=1)
    truth = float(jnp.mean(jnp.sum(model.click_probs(shown, params), axis=1)))  # contexts
    keys = jax.random.split(jax.random.key(7), REPLICATIONS)  # are uniform
    estimates = jax.jit(jax.vmap(lambda key: slate_log_estimates(key, model, params)))(keys)
    return truth, estimates


@pytest.mark.parametrize(
    ("name", "unbiased"), [("pbm", ("slate_ips", "iips", "rips", "pi")),
                           ("cascade", ("slate_ips", "rips"))],
)  # fmt: skip
def test_slate_estimators_are_unbiased_under_the_click_models_they_assume(name, unbiased):
    truth, estimates = slate_world(name)
    for estimator in unbiased:
        assert_unbiased(f"{estimator} under {name}", estimates[estimator], truth)


def test_iips_is_biased_under_cascade():
    truth, estimates = slate_world("cascade")
    z, se, _, _ = replicated(estimates["iips"], truth)
    # In the random logger's slates the items above a target item are worse than the target's
    # own, so fewer users stop before it: IIPS overestimates.
    assert z > 10, f"IIPS under cascade: {z:+.1f} se (se {se:.4f}) from {truth:.4f}"


# ---------------------------------------------------------------- items against the truth

ACTIONS = 5
REWARD = jnp.asarray(np.random.default_rng(2).uniform(0.05, 0.6, (CONTEXTS, ACTIONS)),
                     jnp.float32)  # fmt: skip
LOGGING = jax.nn.softmax(jnp.asarray(np.random.default_rng(3).normal(size=(CONTEXTS, ACTIONS))))
TARGETS = {
    "greedy": jax.nn.one_hot(jnp.argmax(REWARD, axis=1), ACTIONS),
    "softmax": jax.nn.softmax(5.0 * REWARD, axis=1),
}
WRONG_MODEL = 0.5 * REWARD + 0.2  # a reward model with the wrong scale


def item_log_estimates(key, target):
    context_key, action_key, reward_key = jax.random.split(key, 3)
    contexts = jax.random.randint(context_key, (ROUNDS,), 0, CONTEXTS)
    actions = jax.random.categorical(action_key, jnp.log(LOGGING[contexts]))
    rewards = jax.random.bernoulli(reward_key, REWARD[contexts, actions]).astype(jnp.float32)
    mu = LOGGING[contexts, actions]
    pi, q_wrong, q_true = target[contexts], WRONG_MODEL[contexts], REWARD[contexts]
    return {
        "ips": item.ips(actions, rewards, mu, pi),
        "snips": item.snips(actions, rewards, mu, pi),
        "dr": item.dr(actions, rewards, mu, pi, q_wrong),
        "switch_dr": item.switch_dr(actions, rewards, mu, pi, q_wrong, 4.0),
        "dm_true": item.dm(pi, q_true),
        "dm_wrong": item.dm(pi, q_wrong),
    }


@pytest.mark.parametrize("target_name", list(TARGETS))
def test_item_estimators_against_the_exact_value(target_name):
    target = TARGETS[target_name]
    truth = float(jnp.mean(jnp.sum(target * REWARD, axis=1)))
    keys = jax.random.split(jax.random.key(11), REPLICATIONS)
    estimates = jax.jit(jax.vmap(lambda key: item_log_estimates(key, target)))(keys)
    for name in ("ips", "snips", "dr", "dm_true"):
        assert_unbiased(f"{name} ({target_name})", estimates[name], truth)
    z, se, _, _ = replicated(estimates["dm_wrong"], truth)
    assert abs(z) > 10, f"DM with a wrong model should be biased: {z:+.1f} se (se {se:.4f})"
    weights = TARGETS[target_name] / LOGGING
    if float(jnp.max(weights)) > 4.0:  # some weights are switched to DM: biased by q̂ there
        z, _, _, _ = replicated(estimates["switch_dr"], truth)
        assert abs(z) > 3, f"switch-DR (τ = 4) with a wrong model: {z:+.1f} se"


def test_switch_dr_is_dr_at_infinite_tau_and_dm_at_zero():
    keys = jax.random.split(jax.random.key(3), 3)
    context_key, action_key, reward_key = keys
    contexts = jax.random.randint(context_key, (500,), 0, CONTEXTS)
    actions = jax.random.categorical(action_key, jnp.log(LOGGING[contexts]))
    rewards = jax.random.bernoulli(reward_key, REWARD[contexts, actions]).astype(jnp.float32)
    args = (actions, rewards, LOGGING[contexts, actions], TARGETS["softmax"][contexts],
            WRONG_MODEL[contexts])  # fmt: skip
    np.testing.assert_array_equal(item.switch_dr(*args, jnp.inf), item.dr(*args))
    np.testing.assert_allclose(item.switch_dr(*args, 0.0).value,
                               item.dm(args[3], args[4]).value, rtol=1e-6)  # fmt: skip


def test_the_fitted_reward_model_recovers_a_tabular_world():
    """With one-hot (context, action) features, the logistic fit is the per-cell click rate
    (the default λ barely shrinks it): every cell within 0.05 of the truth at ~1,300 rounds
    per cell (about 4 binomial se)."""
    context_key, action_key, reward_key = jax.random.split(jax.random.key(5), 3)
    contexts = jax.random.randint(context_key, (ROUNDS,), 0, CONTEXTS)
    actions = jax.random.randint(action_key, (ROUNDS,), 0, ACTIONS)
    rewards = jax.random.bernoulli(reward_key, REWARD[contexts, actions]).astype(jnp.float32)
    cells = jax.nn.one_hot(contexts * ACTIONS + actions, CONTEXTS * ACTIONS)
    model = reward_model.fit_logistic(cells, rewards, steps=1500)  # default λ
    fitted = reward_model.predict(model, jnp.eye(CONTEXTS * ACTIONS)).reshape(CONTEXTS, ACTIONS)
    np.testing.assert_allclose(fitted, REWARD, atol=0.05)


# ---------------------------------------------------------------- the ε-greedy logger's Γ


def test_epsilon_greedy_gamma_is_the_mean_outer_product_of_its_slates():
    """Γ₀ in closed form against 200,000 slates of the strategy itself (greedy slate 0..k−1)."""
    from agents.exploration import epsilon_greedy
    from agents.exploration.base import Scores

    n_items, k, epsilon, draws = 8, 3, 0.3, 200_000
    mean = jnp.asarray([[0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.05, 0.15]])  # greedy: 0, 1, 2
    scores = Scores(mean, mean, mean)
    params = epsilon_greedy.EpsilonGreedyParams(*(jnp.float32(v) for v in (epsilon, 1, 0)))

    def one(key):
        slates, _ = epsilon_greedy.select(key, scores, None, k, params, jnp.int32(0))
        vector = jax.nn.one_hot(slot_indicator(slates[0], n_items), k * n_items).sum(0)
        return jnp.outer(vector, vector)

    keys = jax.random.split(jax.random.key(3), draws)
    empirical = jax.jit(lambda keys: jax.lax.map(one, keys, batch_size=4096).mean(0))(keys)
    closed = slate.epsilon_greedy_gamma(n_items, k, epsilon)
    # each entry is a frequency of up to 0.7: its sd is at most 0.5 / √200,000 ≈ 0.0011
    np.testing.assert_allclose(empirical, closed, atol=0.006)


def slot_indicator(slate_items, n_items):
    return jnp.arange(slate_items.shape[0]) * n_items + slate_items


def test_relabelled_pseudo_inverse_weights_equal_those_of_the_relabelled_gamma():
    """Γ_μ(x) = P Γ₀ Pᵀ for the greedy slate of x: the weights from Γ₀⁺ and σ equal the weights
    from the pseudo-inverse of Γ_μ(x) itself."""
    n_items, k, epsilon = 7, 2, 0.4
    rng = np.random.default_rng(5)
    greedy = jnp.asarray([[4, 1], [0, 6], [2, 3]])
    relabel = slate.greedy_relabelling(greedy, n_items)
    assert sorted(np.asarray(relabel[0]).tolist()) == list(range(n_items))
    assert np.asarray(relabel)[0, 4] == 0 and np.asarray(relabel)[0, 1] == 1
    gamma0 = slate.epsilon_greedy_gamma(n_items, k, epsilon)
    theta = jnp.asarray(rng.dirichlet(np.ones(n_items), (3, k)), jnp.float32)
    slates = jnp.asarray([[4, 5], [3, 6], [2, 0]])
    got = slate.relabelled_pseudo_inverse_weights(
        slates, jnp.asarray(np.linalg.pinv(gamma0), jnp.float32), theta, relabel
    )
    per_round = []
    for i in range(3):
        sigma = np.asarray(relabel[i])
        index = np.concatenate([j * n_items + sigma for j in range(k)])  # original -> Γ₀ index
        gamma_x = gamma0[np.ix_(index, index)]
        per_round.append(gamma_x)
        direct = slate.pseudo_inverse_weights(slates[i : i + 1], jnp.asarray(gamma_x),
                                              theta[i : i + 1])  # fmt: skip
        np.testing.assert_allclose(got[i], direct[0], rtol=2e-4, atol=1e-5)
    # Γ_μ(x_i) of every round at once, [n, kN, kN]: the same weights.
    stacked = slate.pseudo_inverse_weights(slates, jnp.asarray(np.stack(per_round)), theta)
    np.testing.assert_allclose(stacked, got, rtol=2e-4, atol=1e-5)
