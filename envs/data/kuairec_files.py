"""Reading KuaiRec's fully observed small matrix (Gao et al., 2022, "KuaiRec: A Fully-observed
Dataset and Insights for Evaluating Recommender Systems"; CC BY-SA 4.0) from a directory the
user gives: `small_matrix.csv` (user_id, video_id, ..., watch_ratio; 1,411 users × 3,327
videos, nearly every pair observed) and `item_categories.csv` (video_id, feat: a list such as
"[27, 9]"), as in the `data/` folder of the KuaiRec release. Never shipped with recsim.
"""

import ast
import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from envs.data import one_line
from recsim.core.validation import ConfigError

SOURCE = "https://kuairec.com/ (KuaiRec.zip, its data/ folder)"
FILES = ("small_matrix.csv", "item_categories.csv")
MIN_DENSITY = 0.99
"""Share of user × video pairs the small matrix must observe (KuaiRec's: 99.6 %)."""


class KuaiRec(NamedTuple):
    """The small matrix, users and videos re-indexed 0..M-1, 0..N-1 (sorted raw ids)."""

    watch_ratio: np.ndarray  # [M, N] float32; NaN where the pair is not observed
    categories: np.ndarray  # [N, C] float32 multi-hot
    first_category: np.ndarray  # [N] int32 the first listed category
    counts: np.ndarray  # [M] int32 observed pairs of each user
    digest: str


def missing_message(key: str, data_dir: str) -> str:
    return (f"{key}={data_dir!r} holds no KuaiRec small matrix (want {', '.join(FILES)}): "
            f"download it from {SOURCE} and pass {key}=/path/to/KuaiRec/data")  # fmt: skip


def load(data_dir: str, key: str = "env.data_dir") -> KuaiRec:
    import pandas as pd  # here: a usage error of `experiments.run` must not wait for it

    root = Path(data_dir).expanduser()
    paths = [root / name for name in FILES]
    if not data_dir or not all(path.is_file() for path in paths):
        raise ConfigError(missing_message(key, data_dir))
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())

    def wrong(what: str) -> ConfigError:
        return ConfigError(f"{root}: {what}; expected KuaiRec's small matrix from {SOURCE}")

    try:
        matrix = pd.read_csv(paths[0], usecols=["user_id", "video_id", "watch_ratio"])
        feats = pd.read_csv(paths[1], usecols=["video_id", "feat"])
        listed = feats["feat"].map(ast.literal_eval)
    except (ValueError, KeyError, SyntaxError, pd.errors.ParserError) as error:
        raise ConfigError(f"{key}={data_dir!r}: cannot parse {root}: {one_line(error)}") from None
    ratio = matrix["watch_ratio"].to_numpy(np.float64)
    if not (np.isfinite(ratio) & (ratio >= 0)).all():
        raise wrong("watch_ratio has negative or non-finite values")
    if matrix.duplicated(["user_id", "video_id"]).any():
        raise wrong("a user-video pair appears twice")
    users = np.sort(matrix["user_id"].unique())
    videos = np.sort(matrix["video_id"].unique())
    density = len(matrix) / (len(users) * len(videos))
    if density < MIN_DENSITY:
        raise wrong(f"{len(matrix)} pairs of {len(users)} users × {len(videos)} videos observe "
                    f"{density:.1%} (the small matrix observes ≥ {MIN_DENSITY:.0%})")  # fmt: skip
    if not all(isinstance(x, list) and x and all(isinstance(c, int) and c >= 0 for c in x)
               for x in listed):  # fmt: skip
        raise wrong("item_categories.csv feat must list non-negative integer categories")
    by_video = dict(zip(feats["video_id"], listed, strict=True))
    absent = [v for v in videos if v not in by_video]
    if absent:
        raise wrong(f"{len(absent)} videos of the matrix have no categories, e.g. {absent[0]}")
    u = np.searchsorted(users, matrix["user_id"].to_numpy())
    v = np.searchsorted(videos, matrix["video_id"].to_numpy())
    table = np.full((len(users), len(videos)), np.nan, np.float32)
    table[u, v] = ratio
    n_categories = max(max(x) for x in listed) + 1
    categories = np.zeros((len(videos), n_categories), np.float32)
    for n, video in enumerate(videos):
        categories[n, by_video[video]] = 1.0
    return KuaiRec(
        watch_ratio=table,
        categories=categories,
        first_category=np.array([by_video[video][0] for video in videos], np.int32),
        counts=np.bincount(u, minlength=len(users)).astype(np.int32),
        digest=digest.hexdigest(),
    )
