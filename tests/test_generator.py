"""The latent world's laws (`envs/generator.py`) against an independent NumPy sampling of the
equations in its docstring: item biases, item and user hidden vectors, observation noise.

Each test draws n = 20,000 items or users from the JAX generator and from NumPy with the same
world constants (topic centres, group tastes, projections) and compares summary statistics
within 5 standard errors of their difference (means) or 5 % (standard deviations, whose
relative standard error at n = 20,000 is under 1 %). A 10 % error in `topic_spread`,
`user_taste_scale`, `user_spread`, `bias_scale` or a noise scale moves at least one statistic by
more than that (`test_a_ten_percent_error_in_a_parameter_is_detected`).
"""

import jax
import numpy as np
import pytest

from envs import generator
from envs.latent import LatentConfig, make

N = 20_000


def draw(scale: dict | None = None):
    """World constants, the params, and N items and N users drawn by the generator with the
    params' entries named in `scale` multiplied by its factors (the tests expect `params`)."""
    env, params = make(LatentConfig())
    constants = generator.sample_world(
        jax.random.key(0), params, env.n_topics, env.latent_dim, env.spec.n_groups,
        env.observed_item_dim, env.observed_user_dim,
    )  # fmt: skip
    drawn = params.replace(**{k: getattr(params, k) * f for k, f in (scale or {}).items()})
    items = generator.sample_items(jax.random.key(1), constants, N, drawn)
    users = generator.sample_users(jax.random.key(2), constants, N, drawn)
    as_numpy = lambda tree: jax.tree.map(np.asarray, tree)  # noqa: E731
    return as_numpy(constants), params, as_numpy(items), as_numpy(users)


@pytest.fixture(scope="module")
def world():
    return draw()


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def numpy_item_vectors(rng, centres, spread):
    """v_i = normalize(c_{t_i} + σ_v ξ_i / √d), t_i ~ Uniform(T): topics [n], vectors [n, d]."""
    n_topics, dim = centres.shape
    topics = rng.integers(0, n_topics, N)
    return topics, unit(centres[topics] + spread * rng.standard_normal((N, dim)) / np.sqrt(dim))


def numpy_user_vectors(rng, world, shares, taste_scale, spread):
    """w_u = softmax(γ_g z_g + γ_u ζ_u), u = normalize(Σ_t w_{u,t} c_t + σ_u ξ_u / √d)."""
    centres, group_taste = world.centres, world.group_taste
    groups = rng.choice(len(shares), N, p=shares)
    taste = group_taste[groups] + taste_scale * rng.standard_normal((N, centres.shape[0]))
    weights = np.exp(taste - taste.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    noise = spread * rng.standard_normal((N, centres.shape[1])) / np.sqrt(centres.shape[1])
    return groups, unit(weights @ centres + noise)


def same_law(a, b, what):
    """Means within 5 standard errors of their difference; standard deviations within 5 %."""
    se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) < 5 * se), (what, "mean")
    np.testing.assert_allclose(a.std(axis=0), b.std(axis=0), rtol=0.05, err_msg=what)


def item_statistics(topics, vectors, centres):
    """Per item: cos(v_i, c_{t_i}) and the largest cosine to another topic's centre."""
    cosines = vectors @ centres.T
    own = cosines[np.arange(len(topics)), topics]
    cosines[np.arange(len(topics)), topics] = -np.inf
    return np.stack([own, cosines.max(axis=1)], axis=1)


def user_statistics(groups, vectors, centres, group):
    """For the users of one group: the cosines u · c_t and the norm of u's part outside the
    span of the centres (T < d: only the noise σ_u ξ_u puts it there) [n_g, T + 1]."""
    basis, _ = np.linalg.qr(centres.T)  # [d, T] orthonormal
    outside = np.linalg.norm(vectors - vectors @ basis @ basis.T, axis=1, keepdims=True)
    return np.concatenate([vectors @ centres.T, outside], axis=1)[groups == group]


def test_item_biases_follow_the_shifted_pareto_law(world):
    """b_i = μ_b + s_b (P_i − 1), P ~ Pareto(a) on [1, ∞): b ≥ μ_b, and its q-quantile is
    μ_b + s_b ((1 − q)^(−1/a) − 1) (the Pareto inverse CDF)."""
    _, params, items, _ = world
    mu, s, a = (float(x) for x in (params.bias_mean, params.bias_scale, params.bias_tail))
    assert items.bias.min() >= mu - 1e-6 and items.bias.min() < mu + 0.01 * s
    q = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    expected = s * ((1 - q) ** (-1 / a) - 1)
    np.testing.assert_allclose(np.quantile(items.bias - mu, q), expected, rtol=0.05)


def test_items_spread_around_their_topic_centre_as_the_law_says(world):
    constants, params, items, _ = world
    n_topics = constants.centres.shape[0]
    shares = np.bincount(items.topics, minlength=n_topics) / N
    assert np.all(np.abs(shares - 1 / n_topics) < 5 * np.sqrt((1 / n_topics) / N))
    topics, vectors = numpy_item_vectors(
        np.random.default_rng(0), constants.centres, float(params.topic_spread)
    )
    np.testing.assert_allclose(np.linalg.norm(items.vecs, axis=1), 1.0, rtol=1e-5)
    same_law(item_statistics(items.topics, items.vecs, constants.centres),
             item_statistics(topics, vectors, constants.centres), "items")  # fmt: skip


def test_observed_item_features_are_the_topic_and_a_noisy_projection(world):
    """features = onehot(t_i) ‖ A_v v_i + σ_x ε_i, ε_i ~ N(0, I) independent per item."""
    constants, params, items, _ = world
    n_topics = constants.centres.shape[0]
    np.testing.assert_array_equal(items.features[:, :n_topics], np.eye(n_topics)[items.topics])
    residual = items.features[:, n_topics:] - items.vecs @ constants.item_proj.T
    sigma = float(params.item_feature_noise)
    assert np.all(np.abs(residual.mean(axis=0)) < 5 * sigma / np.sqrt(N))
    np.testing.assert_allclose(residual.std(axis=0), sigma, rtol=0.05)
    assert abs(np.corrcoef(residual[:-1, 0], residual[1:, 0])[0, 1]) < 5 / np.sqrt(N)


def test_users_of_each_group_mix_topics_as_the_law_says(world):
    constants, params, items, users = world
    shares = np.asarray(params.group_shares, np.float64)
    assert users.groups.dtype == np.int32 and items.topics.dtype == np.int32
    counts = np.bincount(users.groups, minlength=len(shares)) / N
    assert np.all(np.abs(counts - shares) < 5 * np.sqrt(shares * (1 - shares) / N))
    groups, vectors = numpy_user_vectors(
        np.random.default_rng(1), constants, shares / shares.sum(),
        float(params.user_taste_scale), float(params.user_spread),
    )  # fmt: skip
    for group in range(len(shares)):
        ours = user_statistics(users.groups, users.vecs, constants.centres, group)
        same_law(ours, user_statistics(groups, vectors, constants.centres, group), f"group {group}")
    np.testing.assert_allclose(users.activity.std(), float(params.activity_skew), rtol=0.05)
    np.testing.assert_allclose(users.noise.std(axis=0), float(params.user_feature_noise), rtol=0.05)


@pytest.mark.parametrize(
    "name, check",
    [
        ("bias_scale", test_item_biases_follow_the_shifted_pareto_law),
        ("topic_spread", test_items_spread_around_their_topic_centre_as_the_law_says),
        ("item_feature_noise", test_observed_item_features_are_the_topic_and_a_noisy_projection),
        ("user_taste_scale", test_users_of_each_group_mix_topics_as_the_law_says),
        ("user_spread", test_users_of_each_group_mix_topics_as_the_law_says),
        ("user_feature_noise", test_users_of_each_group_mix_topics_as_the_law_says),
    ],
)
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_a_ten_percent_error_in_a_parameter_is_detected(name, check, factor):
    with pytest.raises(AssertionError):
        check(draw({name: factor}))
