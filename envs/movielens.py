"""`movielens`: MovieLens-100K's users and movies, with hidden preferences from a biased
matrix factorisation of their ratings (`envs.data.factorization`), as RecLab's `ml-100k`
environment (Krauth et al., 2020) grounds its users in the same data.

x_{r,j} = r̂_rj = μ + b_r + b_j + ⟨p_r, q_j⟩ is the rating the fit predicts; the attraction is
a = σ(α (r̂ − c)) (defaults α = 3, c = 4.5: a movie predicted at 4.5 stars is clicked half the
time when examined, one at 4 stars 18 %, one at 3.5 stars 5 %). Features: users' age bucket
(7), gender (2) and occupation (21); movies' 19 genres and standardised release year; each
plus a noisy projection of the fitted factors (`envs.table`). Groups: gender (F, M). Topics
(boredom): a movie's first genre. Arrivals ∝ 1 + the user's number of ratings. Catalogue
order: release year, then id, so with `n_items` < 1,682 the newest movies are held out and
arrive with item churn (a real cold start).
"""

import functools
import sys
import time
from pathlib import Path

import numpy as np

from envs.data import factorization, file_stamp, movielens_files
from envs.response import REGISTRY as RESPONSE_MODELS
from envs.table import TableData, build
from envs.table_config import MovieLensConfig

FILES = ("u.*", "ml-100k.*")
"""The files whose change makes a process read the data again (either layout)."""


def table_data(data: movielens_files.MovieLens, factors: factorization.Factors) -> TableData:
    """The world's arrays from the data and its fit."""
    one_hot = lambda index, n: np.eye(n, dtype=np.float32)[index]  # noqa: E731
    users = np.concatenate(
        [
            one_hot(np.digitize(data.age, movielens_files.AGE_EDGES), 7),
            one_hot(data.gender, 2),
            one_hot(data.occupation, len(movielens_files.OCCUPATIONS)),
        ],
        axis=1,
    )
    year = (data.year - data.year.mean()) / max(float(data.year.std()), 1e-6)
    items = np.concatenate([data.genres, year[:, None]], axis=1).astype(np.float32)
    n_users, n_items = len(data.age), len(data.year)
    counts = np.bincount(data.user, minlength=n_users)
    return TableData(
        user_bias=(factors.mean + factors.user_bias).astype(np.float32),
        item_bias=factors.item_bias.astype(np.float32),
        user_profile=factors.user_factors.astype(np.float32),
        item_profile=factors.item_factors.astype(np.float32),
        table=np.zeros((0, 0), np.float32),
        user_descriptors=users,
        item_descriptors=items,
        user_group=data.gender.astype(np.int32),
        item_topic=np.argmax(data.genres > 0, axis=1).astype(np.int32),
        activity=np.log1p(counts).astype(np.float32),
        release_order=np.lexsort((np.arange(n_items), data.year)).astype(np.int32),
    )


def settings(config: MovieLensConfig) -> factorization.FitSettings:
    return factorization.FitSettings(config.rank, config.regularization, config.epochs,
                                     config.learning_rate, config.fit_seed)  # fmt: skip


@functools.lru_cache(maxsize=4)
def _world(data_dir: str, stamp: tuple, fit: factorization.FitSettings, cache: str):
    data = movielens_files.load(data_dir)
    start = time.perf_counter()
    factors, path, cached = factorization.cached_fit(data, fit, cache)
    rmse = f"held-out RMSE {factors.held_out_rmse:.4f} (train {factors.train_rmse:.4f})"
    if cached:
        print(f"movielens: read the fit {path} ({rmse})", file=sys.stderr)
    else:
        print(f"movielens: fitted biased MF (rank {fit.rank}, λ {fit.regularization}, "
              f"{fit.epochs} epochs) in {time.perf_counter() - start:.1f} s: {rmse}; "
              f"cached in {path}", file=sys.stderr)  # fmt: skip
    return table_data(data, factors), f"{data.digest}:{path.name}"


def make(config: MovieLensConfig):
    """Validated static env and its traced params (the data held once) from a config."""
    config.validate_fit()
    if not config.data_dir:
        raise movielens_files.ConfigError(
            movielens_files.missing_message("env.data_dir", config.data_dir)
        )
    data, digest = _world(config.data_dir, file_stamp(config.data_dir, FILES), settings(config),
                          str(Path(config.fit_cache).expanduser()))  # fmt: skip
    config.validate(len(data.user_bias), len(data.item_bias))
    return build(config, data, digest, n_groups=2, response_registry=RESPONSE_MODELS)
