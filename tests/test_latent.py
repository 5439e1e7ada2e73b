"""The `latent` environment: world generation, position-based clicks, drift and boredom."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.latent import LatentConfig, make
from envs.response.pbm import examination
from recsim.core import loop
from recsim.core.validation import ConfigError
from tests.conftest import SEEDS, simulation, small_env
from tests.power import z_power


def test_examination_is_one_over_log2_position():
    np.testing.assert_allclose(examination(3), [1.0, 1 / np.log2(3), 0.5], rtol=1e-6)


def test_world_shapes_match_the_spec():
    env, params = small_env()
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    spec = env.spec
    assert obs.user_features.shape == (spec.users_per_step, spec.user_feature_dim)
    assert obs.item_features.shape == (spec.n_items, spec.item_feature_dim)
    truth = env.truth(state, obs, params)
    assert truth.attraction.shape == (spec.users_per_step, spec.n_items)
    assert np.all((truth.attraction > 0) & (truth.attraction < 1))
    np.testing.assert_allclose(np.linalg.norm(state.user_vecs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(state.item_vecs, axis=1), 1.0, rtol=1e-5)


def test_arriving_users_are_distinct_every_step():
    env, params = small_env(users_per_step=40)
    state = env.init(jax.random.key(0), params)
    for t in range(20):
        ids = np.asarray(env.observe(jax.random.key(t), state, params).user_ids)
        assert len(set(ids.tolist())) == 40


def test_group_shares_are_respected():
    """n = 20,000 users, the share of group 1 within 4 standard errors of 0.2 (α = 6.3e-5): a
    10 % error in the share (0.2 → 0.22 or 0.18) fails it with power ≥ 0.998 (asserted; 4,000
    users had power 0.29)."""
    n, share, z_bound = 20000, 0.2, 4.0
    sd = np.sqrt(share * (1 - share) / n)
    for wrong in (1.1 * share, 0.9 * share):
        power = z_power(wrong - share, sd, np.sqrt(wrong * (1 - wrong) / n), z_bound)
        assert power >= 0.99, (wrong, power)
    env, params = small_env(n_users=n, group_shares=[1 - share, share])
    groups = np.asarray(env.init(jax.random.key(0), params).user_groups)
    assert abs(np.mean(groups == 1) - share) < z_bound * sd


def test_groups_have_different_tastes():
    env, params = small_env(n_users=2000, group_shares=[0.5, 0.5])
    state = env.init(jax.random.key(0), params)
    groups = np.asarray(state.user_groups)
    affinity = np.asarray(state.user_vecs @ state.item_vecs.T)  # [M, N]
    gap = np.abs(affinity[groups == 0].mean(0) - affinity[groups == 1].mean(0))
    assert gap.max() > 0.2


def test_quality_bias_is_heavy_tailed():
    env, params = small_env(n_items=2000, slate_size=3)
    bias = np.asarray(env.init(jax.random.key(0), params).item_bias)
    # A right tail: the mean sits above the median and a few items stand far out.
    assert bias.mean() > np.median(bias)
    assert bias.max() - np.median(bias) > 5 * (np.median(bias) - bias.min())


def test_empirical_click_rates_match_the_click_model(static_world):
    """400 steps × 50 users = 20,000 slates: per position, the click count within 4 standard
    errors of Σ κ_j a (κ_j = 1 / log2(j + 2) written here; α = 6.3e-5 per position). A 10 %
    error in any one examination probability κ_j (either way) fails it with power ≥ 0.99
    (asserted from the run's own attractions; 8 users per step gave power ≈ 0.3 at j = 2)."""
    sim, params = simulation("random", users_per_step=50, **static_world)
    _, tr = loop.rollout(sim, params, master_seed=0, seed=0, steps=400)
    shown = np.take_along_axis(np.asarray(tr.truth.attraction), np.asarray(tr.slates), axis=2)
    shown = shown.astype(np.float64)
    # An independent κ_j = 1 / log2(j + 2), not the env's own function.
    kappa = 1.0 / np.log2(np.arange(shown.shape[-1]) + 2.0)
    prob = shown * kappa  # [T, U, k]
    np.testing.assert_allclose(np.asarray(tr.expected), prob, rtol=1e-5)
    clicks = np.asarray(tr.feedback.clicks)
    z_bound = 4.0
    for position in range(prob.shape[-1]):
        p, c = prob[..., position], clicks[..., position]
        sd = np.sqrt(np.sum(p * (1 - p)))
        for factor in (1.1, 0.9):
            wrong = factor * p
            power = z_power(wrong.sum() - p.sum(), sd, np.sqrt(np.sum(wrong * (1 - wrong))), 4)
            assert power >= 0.99, (position, factor, power)
        z = (c.sum() - p.sum()) / sd
        assert abs(z) < z_bound, (position, c.mean(), p.mean())
    # Calibration across probability levels: bins of predicted probability.
    p, c = prob.ravel(), clicks.ravel()
    for low, high in [(0.0, 0.1), (0.1, 0.3), (0.3, 1.0)]:
        inside = (p >= low) & (p < high)
        z = (c[inside].sum() - p[inside].sum()) / np.sqrt(np.sum(p[inside] * (1 - p[inside])))
        assert abs(z) < z_bound, (low, high)


def forced_step(drift_rate=0.0, boredom_penalty=0.0):
    """One step where (almost) every shown item is clicked: a huge quality bias."""
    env, params = small_env(
        bias_mean=20.0, bias_scale=0.0, drift_rate=drift_rate, boredom_penalty=boredom_penalty
    )
    state = env.init(jax.random.key(0), params)
    obs = env.observe(jax.random.key(1), state, params)
    slates = jnp.tile(jnp.arange(env.spec.slate_size), (env.spec.users_per_step, 1))
    return env, params, state, obs, slates


def test_user_homogeneity_is_the_mean_pairwise_cosine():
    env, params = small_env()
    state = env.init(jax.random.key(0), params)
    u = np.asarray(state.user_vecs, np.float64)
    cosine = u @ u.T
    m = u.shape[0]
    expected = (cosine.sum() - np.trace(cosine)) / (m * (m - 1))
    np.testing.assert_allclose(float(env.user_homogeneity(state, params)), expected, atol=1e-5)


def test_drift_makes_users_more_alike_than_without_drift():
    """Drift pulls users toward what they are shown; one slate for everyone homogenises."""
    homogeneity = {}
    for rate in (0.0, 0.3):
        sim, params = simulation("popularity", drift_rate=rate)
        rows = loop.run(sim, params, master_seed=0, seeds=range(2), steps=100).rows
        homogeneity[rate] = rows["user_homogeneity"]
    # Nothing moves without drift (but float32 round-off of the renormalisation).
    np.testing.assert_allclose(np.diff(homogeneity[0.0], axis=1), 0.0, atol=1e-6)
    assert np.all(homogeneity[0.3][:, -1] > homogeneity[0.0][:, -1] + 0.05)


def test_drift_moves_users_toward_the_items_they_clicked():
    env, params, state, obs, slates = forced_step(drift_rate=0.3)
    new_state, feedback = env.step(jax.random.key(2), state, obs, slates, params)
    clicks = np.asarray(feedback.clicks)
    before = np.asarray(state.user_vecs[obs.user_ids])
    after = np.asarray(new_state.user_vecs[obs.user_ids])
    shown = np.asarray(state.item_vecs[slates])
    target = (clicks[..., None] * shown).sum(1) / np.maximum(clicks.sum(1, keepdims=True), 1)
    clicked = clicks.sum(1) > 0
    assert clicked.sum() >= env.spec.users_per_step - 1
    expected = before + 0.3 * (target - before)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(after[clicked], expected[clicked], rtol=1e-5, atol=1e-6)
    gain = np.sum(after * target, 1) - np.sum(before * target, 1)
    assert np.all(gain[clicked] >= -1e-6) and np.mean(gain[clicked]) > 0
    np.testing.assert_array_equal(after[~clicked], before[~clicked])
    # Users who did not arrive are untouched.
    others = np.setdiff1d(np.arange(env.n_users), np.asarray(obs.user_ids))
    np.testing.assert_array_equal(new_state.user_vecs[others], state.user_vecs[others])


def test_no_drift_without_drift_rate():
    env, params, state, obs, slates = forced_step(drift_rate=0.0)
    new_state, _ = env.step(jax.random.key(2), state, obs, slates, params)
    np.testing.assert_allclose(new_state.user_vecs, state.user_vecs, atol=1e-6)


def test_boredom_lowers_the_attraction_of_the_topics_just_shown():
    env, params, state, obs, slates = forced_step(boredom_penalty=0.25)
    params = params.replace(bias_mean=jnp.float32(-1.0))  # keep attraction away from 1
    new_state, _ = env.step(jax.random.key(2), state, obs, slates, params)
    before = np.asarray(env.truth(state, obs, params).attraction)
    after = np.asarray(env.truth(new_state, obs, params).attraction)
    topics = np.asarray(state.item_topics)
    k = env.spec.slate_size
    shown_topic_share = np.bincount(topics[:k], minlength=env.n_topics) / k  # m after one step
    expected_factor = 0.75 ** shown_topic_share[topics]  # (1 − β)^m for every item
    np.testing.assert_allclose(after, before * expected_factor[None, :], rtol=1e-5)
    unseen = shown_topic_share[topics] == 0
    assert unseen.any() and (~unseen).any()


def test_boredom_lowers_clicks_of_an_agent_that_repeats_itself():
    """Popularity shows the same few items again and again: boredom must cost it clicks."""
    ctr = {}
    for penalty in (0.0, 0.3):
        sim, params = simulation("popularity", boredom_penalty=penalty, drift_rate=0.0)
        result = loop.run(sim, params, master_seed=0, seeds=SEEDS, steps=100)
        ctr[penalty] = result.rows["expected_ctr"][:, -10:].mean()
    assert ctr[0.3] < 0.9 * ctr[0.0]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n_items", 1, "env.n_items=1 is out of range"),
        ("slate_size", 31, "env.slate_size=31 is out of range: allowed 1..30 (env.n_items)"),
        ("users_per_step", 101, "env.users_per_step=101"),
        ("group_shares", [0.5, 0.6], "must sum to 1"),
        ("group_shares", [1.2, -0.2], "env.group_shares[0]=1.2"),
        ("drift_rate", 1.5, "env.drift_rate=1.5 is out of range: allowed [0.0, 1.0]"),
        ("boredom_penalty", 1.0, "env.boredom_penalty=1.0"),
        ("bias_tail", 0.0, "env.bias_tail=0.0"),
        ("click_scale", float("nan"), "env.click_scale=nan must be a finite number"),
        ("click_model", "probit", "env.click_model='probit' must be one of"),
        ("continuation", 1.5, "env.continuation=1.5 is out of range: allowed [0.0, 1.0]"),
        ("outside_weight", 0.0, "env.outside_weight=0.0 is out of range"),
        ("item_churn_rate", 1.2, "env.item_churn_rate=1.2 is out of range: allowed [0.0, 1.0]"),
        ("item_churn_rate", -0.1, "env.item_churn_rate=-0.1"),
        ("item_churn_rate", 0.01, "env.item_churn_rate=0.01 replaces no item of env.n_items=30"),
        ("item_churn_every", 0, "env.item_churn_every=0 is out of range: allowed >= 1"),
        ("patience", -1.0, "env.patience=-1.0 is out of range"),
    ],
)
def test_invalid_config_is_refused_with_the_key_and_value(field, value, message):
    with pytest.raises(ConfigError) as error:
        small_env(**{field: value})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_default_config_is_valid():
    make(LatentConfig())
