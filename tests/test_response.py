"""Response models: empirical clicks match each model's expectation, and the best slate each
model reports is the exact optimum (exhaustive search) with regret never negative."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.latent_config import LatentConfig
from envs.response import REGISTRY
from envs.response.base import gather
from tests.power import rate_power

MODELS = sorted(REGISTRY)


def model_and_params(name, **knobs):
    """(model, params) from the registry, the knobs read from an env config (no spec needed)."""
    config = LatentConfig(click_model=name, **knobs)
    model, params = REGISTRY[name].make(config, None)
    assert model.name == name
    return model, params


def independent_click_probs(name, a, continuation=0.5, outside_weight=1.0):
    """Per-slot click probabilities recomputed in NumPy from the README's equations."""
    k = a.shape[-1]
    kappa = 1.0 / np.log2(np.arange(k) + 2.0)
    if name == "pbm":
        return kappa * a
    if name in ("cascade", "dcm"):
        lam = 0.0 if name == "cascade" else continuation
        out = np.zeros_like(a)
        for u in range(a.shape[0]):
            examined = 1.0
            for j in range(k):
                out[u, j] = examined * a[u, j]
                examined *= 1.0 - (1.0 - lam) * a[u, j]
        return out
    w = kappa * a / (1.0 - a)
    return w / (outside_weight + w.sum(-1, keepdims=True))


@pytest.mark.parametrize("name", MODELS)
def test_click_probs_match_an_independent_numpy_recomputation(name):
    a = np.asarray(jax.random.uniform(jax.random.key(0), (6, 4), minval=0.05, maxval=0.95))
    model, params = model_and_params(name)
    np.testing.assert_allclose(
        np.asarray(model.click_probs(jnp.asarray(a), params)),
        independent_click_probs(name, a),
        rtol=1e-5,
    )


def ten_percent_errors(name, a):
    """Click probabilities (the README's equations) with one parameter 10 % off: each slot's
    examination probability (κ_j in pbm and mnl; P(slot j examined) in cascade and dcm), dcm's
    continuation λ, mnl's outside weight."""
    k = a.shape[-1]
    base = independent_click_probs(name, a)
    wrong = {}
    for j in range(k):
        if name in ("pbm", "mnl"):
            scale = np.ones(k)
            scale[j] = 1.1
            if name == "pbm":
                wrong[f"kappa_{j}"] = independent_click_probs(name, a) * scale
            else:
                w = scale / np.log2(np.arange(k) + 2.0) * a / (1.0 - a)
                wrong[f"kappa_{j}"] = w / (1.0 + w.sum(-1, keepdims=True))
        else:
            examined = base.copy()
            examined[:, j] *= 1.1
            wrong[f"examined_{j}"] = examined
    if name == "dcm":
        for lam in (0.55, 0.45):
            wrong[f"continuation_{lam}"] = independent_click_probs(name, a, continuation=lam)
    if name == "mnl":
        for w0 in (1.1, 0.9):
            wrong[f"outside_weight_{w0}"] = independent_click_probs(name, a, outside_weight=w0)
    return base, wrong


@pytest.mark.parametrize("name", MODELS)
def test_empirical_clicks_match_the_expectation(name):
    """n = 200,000 draws of 3 slates: each slot's click rate within 4 standard errors of the
    README's equations recomputed in NumPy (α = 6.3e-5 per cell, 12 cells). A 10 % error in any
    one parameter (an examination probability, dcm's λ, mnl's w_0) moves some cell by enough to
    fail it with power ≥ 0.99 (asserted; the weakest, cascade's slot 3, has power > 0.9999)."""
    a = jnp.array([[0.9, 0.5, 0.3, 0.1], [0.2, 0.7, 0.6, 0.4], [0.05, 0.05, 0.8, 0.3]])
    model, params = model_and_params(name)
    draws, z_bound = 200_000, 4.0
    prob, wrong = ten_percent_errors(name, np.asarray(a, np.float64))
    for label, p_wrong in wrong.items():
        # The test fails if any cell does; its power is at least the best cell's.
        power = rate_power(prob, p_wrong, draws, z_bound).max()
        assert power >= 0.99, (label, power)
    keys = jax.random.split(jax.random.key(1), draws)
    clicks = jax.vmap(lambda key: model.sample(key, a, params))(keys)  # [draws, 3, 4]
    clicks = np.asarray(clicks, np.float64)
    rate = clicks.mean(0)
    se = np.sqrt(prob * (1 - prob) / draws)
    assert np.all(np.abs(rate - prob) < z_bound * se + 1e-12), (rate, prob)
    assert set(np.unique(clicks)) <= {0.0, 1.0}
    if name in ("cascade", "mnl"):  # at most one click per slate
        assert clicks.sum(-1).max() <= 1


@pytest.mark.parametrize("name", MODELS)
def test_best_slate_equals_exhaustive_search_on_six_items(name):
    """Every ordered 3-slate of 6 items (120 of them) for 16 random users: none beats `best`,
    and `best`'s value equals the maximum."""
    k = 3
    attraction = jax.random.uniform(jax.random.key(2), (16, 6), minval=0.01, maxval=0.99)
    model, params = model_and_params(name)
    slates, value = model.best(attraction, k, params)
    all_slates = jnp.array(list(itertools.permutations(range(6), k)), jnp.int32)  # [120, k]

    def slate_value(slate):
        shown = gather(attraction, jnp.broadcast_to(slate, (attraction.shape[0], k)))
        return jnp.sum(model.click_probs(shown, params), -1)

    values = np.asarray(jax.vmap(slate_value)(all_slates))  # [120, U]
    np.testing.assert_allclose(np.asarray(value), values.max(0), rtol=1e-5)
    assert np.all(values <= np.asarray(value)[None, :] * (1 + 1e-6))
    recomputed = np.asarray(jnp.sum(model.click_probs(gather(attraction, slates), params), -1))
    np.testing.assert_allclose(recomputed, np.asarray(value), rtol=1e-6)
    assert all(len(set(row)) == k for row in np.asarray(slates).tolist())


@pytest.mark.parametrize("name", MODELS)
def test_random_slates_never_beat_the_best(name):
    attraction = jax.random.uniform(jax.random.key(3), (64, 50), minval=0.0, maxval=0.99)
    model, params = model_and_params(name)
    _, value = model.best(attraction, 5, params)
    keys = jax.random.split(jax.random.key(4), 200)
    slates = jax.vmap(
        lambda key: jax.vmap(lambda kk: jax.random.permutation(kk, 50)[:5])(
            jax.random.split(key, 64)
        )
    )(keys)  # [200, 64, 5]
    values = jax.vmap(lambda s: jnp.sum(model.click_probs(gather(attraction, s), params), -1))(
        slates
    )
    assert np.all(np.asarray(values) <= np.asarray(value)[None] + 1e-6)


def test_cascade_is_dcm_with_zero_continuation_click_for_click():
    a = jax.random.uniform(jax.random.key(5), (32, 5))
    cascade, cascade_params = model_and_params("cascade")
    dcm, dcm_params = model_and_params("dcm", continuation=0.0)
    for seed in range(5):
        key = jax.random.key(seed)
        np.testing.assert_array_equal(
            cascade.sample(key, a, cascade_params), dcm.sample(key, a, dcm_params)
        )


def test_cascade_clicks_at_most_once_and_stops_at_the_first_click():
    """a = 0.5 everywhere: P(first click at j) = 0.5^(j+1), hand-computed. n = 200,000 slates,
    each share within 4.5 standard errors (α = 6.8e-6 per share): a 10 % error in a (0.5 →
    0.55 or 0.45) or in any one slot's examination probability (share_j × 1.1) fails it with
    power > 0.9999 (asserted; 1,000 slates and atol 0.05 had power ≈ 0.5 against a = 0.55)."""
    n, z_bound = 200_000, 4.5
    a = jnp.full((n, 4), 0.5)
    shares_by_hand = np.array([0.5, 0.25, 0.125, 0.0625])
    wrongs = [np.array([b * (1 - b) ** j for j in range(4)]) for b in (0.55, 0.45)]
    wrongs += [shares_by_hand * np.where(np.arange(4) == j, 1.1, 1.0) for j in range(4)]
    for wrong in wrongs:
        assert rate_power(shares_by_hand, wrong, n, z_bound).max() >= 0.99, wrong
    model, params = model_and_params("cascade")
    clicks = np.asarray(model.sample(jax.random.key(6), a, params))
    assert clicks.sum(1).max() == 1
    first = np.argmax(clicks, axis=1)
    shares = np.bincount(first[clicks.sum(1) == 1], minlength=4) / n
    se = np.sqrt(shares_by_hand * (1 - shares_by_hand) / n)
    np.testing.assert_array_less(np.abs(shares - shares_by_hand), z_bound * se)


def test_dcm_with_full_continuation_clicks_every_slot_independently():
    a = jnp.array([[0.3, 0.6, 0.9]])
    model, params = model_and_params("dcm", continuation=1.0)
    np.testing.assert_allclose(model.click_probs(a, params), a, rtol=1e-6)


def test_dcm_expected_clicks_telescope():
    """Σ_j P(click at j) = (1 − Π (1 − c a_j)) / c with c = 1 − λ (hand-derived)."""
    a = jnp.array([[0.3, 0.6, 0.9, 0.2]])
    model, params = model_and_params("dcm", continuation=0.25)
    c = 0.75
    expected = (1 - np.prod(1 - c * np.asarray(a))) / c
    np.testing.assert_allclose(float(jnp.sum(model.click_probs(a, params))), expected, rtol=1e-6)


def test_mnl_hand_computed():
    """a = [0.5, 0.5]: w = [1, 1], attention [1, 1/log2(3)], w_0 = 2."""
    model, params = model_and_params("mnl", outside_weight=2.0)
    d1 = 1.0 / np.log2(3.0)
    probs = np.asarray(model.click_probs(jnp.array([[0.5, 0.5]]), params))
    np.testing.assert_allclose(probs, [[1 / (3 + d1), d1 / (3 + d1)]], rtol=1e-6)
    # Shown alone beside an outside option of weight 1, an item is clicked with probability a.
    _, unit = model_and_params("mnl", outside_weight=1.0)
    np.testing.assert_allclose(model.click_probs(jnp.array([[0.3]]), unit), [[0.3]], rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_response_models_work_under_jit_and_vmap(name):
    a = jax.random.uniform(jax.random.key(7), (4, 8, 3))
    model, params = model_and_params(name)
    eager = model.click_probs(a[0], params)
    batched = jax.jit(jax.vmap(model.click_probs, in_axes=(0, None)))(a, params)
    np.testing.assert_allclose(batched[0], eager, rtol=1e-6)


def test_mnl_picks_exactly_the_slot_whose_interval_holds_the_uniform():
    """One slot with a = 0.5 beside w_0 = 1: clicked with probability exactly 0.5. n = 20,000,
    within 4 standard errors (α = 6.3e-5): a 10 % error in a (0.5 → 0.55, 0.45) or in w_0
    (1 → 1.1 or 0.9: p = 1 / 2.1 or 1 / 1.9) fails it with power ≥ 0.997 (asserted)."""
    n, z_bound = 20000, 4.0
    for wrong in (0.55, 0.45, 1 / 2.1, 1 / 1.9):
        assert rate_power(0.5, wrong, n, z_bound) >= 0.99, wrong
    model, params = model_and_params("mnl", outside_weight=1.0)
    a = jnp.full((n, 1), 0.5)  # alone beside w_0 = 1: clicked with probability 0.5
    clicks = np.asarray(model.sample(jax.random.key(8), a, params))
    assert set(np.unique(clicks)) <= {0, 1}
    assert abs(clicks.mean() - 0.5) < z_bound * np.sqrt(0.25 / n)
