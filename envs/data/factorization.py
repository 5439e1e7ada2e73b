"""Biased matrix factorisation of explicit ratings (Koren, Bell & Volinsky, 2009, "Matrix
factorization techniques for recommender systems"), fitted in JAX with Optax:

    r̂_ui = μ + b_u + b_i + ⟨p_u, q_i⟩
    L = mean_(u,i,r ∈ train) [(r − r̂_ui)² + λ (‖p_u‖² + ‖q_i‖² + b_u² + b_i²)]

μ is the training mean; p, q ∈ ℝ^rank start at N(0, 0.1²), biases at 0; full-batch Adam for
`epochs` steps. The ratings are split once at random (fit seed) into 80 % train and 20 %
held out; the model fitted on the train part is the world, and its held-out RMSE is reported.
A fit is cached on disk keyed by the data's digest and every fit setting, so a sweep (and every
later run) reads it instead of fitting again; the cache file is written whole or not at all.
"""

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

HELD_OUT = 0.2


@dataclasses.dataclass(frozen=True)
class FitSettings:
    rank: int
    regularization: float
    epochs: int
    learning_rate: float
    seed: int


class Factors(NamedTuple):
    mean: float  # μ
    user_bias: np.ndarray  # [M] b_u
    item_bias: np.ndarray  # [N] b_i
    user_factors: np.ndarray  # [M, rank] p_u
    item_factors: np.ndarray  # [N, rank] q_i
    train_rmse: float
    held_out_rmse: float


def split(n_ratings: int, seed: int) -> np.ndarray:
    """[R] bool: the held-out 20 % (a seeded random permutation)."""
    order = np.random.default_rng(seed).permutation(n_ratings)
    held = np.zeros(n_ratings, bool)
    held[order[: round(HELD_OUT * n_ratings)]] = True
    return held


def predict(factors, user: np.ndarray, item: np.ndarray) -> np.ndarray:
    """r̂ of the listed (user, item) pairs: [R]."""
    mean, b_u, b_i, p, q = factors[:5]
    return mean + b_u[user] + b_i[item] + jnp.sum(p[user] * q[item], axis=-1)


def fit(user, item, rating, n_users: int, n_items: int, settings: FitSettings) -> Factors:
    """The fit on the train part and its RMSE on both parts (see the module docstring)."""
    held = split(len(rating), settings.seed)
    train = ~held
    u, i, r = (jnp.asarray(x[train]) for x in (user, item, rating))
    mean = float(np.mean(rating[train]))
    key_p, key_q = jax.random.split(jax.random.key(settings.seed))
    params = {
        "b_u": jnp.zeros(n_users),
        "b_i": jnp.zeros(n_items),
        "p": 0.1 * jax.random.normal(key_p, (n_users, settings.rank)),
        "q": 0.1 * jax.random.normal(key_q, (n_items, settings.rank)),
    }
    optimizer = optax.adam(settings.learning_rate)
    lam = settings.regularization

    def loss(w):
        pu, qi, bu, bi = w["p"][u], w["q"][i], w["b_u"][u], w["b_i"][i]
        error = r - (mean + bu + bi + jnp.sum(pu * qi, axis=-1))
        penalty = jnp.sum(pu**2, -1) + jnp.sum(qi**2, -1) + bu**2 + bi**2
        return jnp.mean(error**2 + lam * penalty)

    @jax.jit
    def train_all(w):
        def one(carry, _):
            w, state = carry
            grads = jax.grad(loss)(w)
            updates, state = optimizer.update(grads, state, w)
            return (optax.apply_updates(w, updates), state), None

        (w, _), _ = jax.lax.scan(one, (w, optimizer.init(w)), None, length=settings.epochs)
        return w

    w = jax.device_get(train_all(params))
    factors = (mean, w["b_u"], w["b_i"], w["p"], w["q"])

    def rmse(mask):
        error = rating[mask] - np.asarray(predict(factors, user[mask], item[mask]))
        return float(np.sqrt(np.mean(error**2)))

    return Factors(*factors, train_rmse=rmse(train), held_out_rmse=rmse(held))


def cache_path(cache_dir: str, digest: str, settings: FitSettings) -> Path:
    """The cache file of a fit: named by sha256 of the data digest and the settings."""
    key = json.dumps({"data": digest, **dataclasses.asdict(settings)}, sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Path(cache_dir).expanduser() / f"mf-{name}.npz"


def cached_fit(data, settings: FitSettings, cache_dir: str) -> tuple[Factors, Path, bool]:
    """(the fit, its cache file, whether it was read from the cache). A fit is written to a
    temporary file in the cache directory and renamed into place, so a reader never sees half
    a file; an unreadable cache file is fitted again and replaced."""
    path = cache_path(cache_dir, data.digest, settings)
    if path.is_file():
        try:
            with np.load(path) as stored:
                return Factors(*(stored[name][()] for name in Factors._fields)), path, True
        except (OSError, ValueError, KeyError):
            pass  # corrupt: fit again below
    n_users, n_items = len(data.age), len(data.year)
    factors = fit(data.user, data.item, data.rating, n_users, n_items, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, **{name: np.asarray(value) for name, value in factors._asdict().items()})
    os.replace(handle.name, path)
    return factors, path, False
