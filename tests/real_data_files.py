"""Synthetic data files in the exact formats of MovieLens-100K (official and RecBole layouts)
and of KuaiRec's small matrix, from planted worlds, so the real-data loaders, the fit, the
calibration and whole runs are tested without the real data (which is never shipped).

MovieLens: 943 users, 1,682 items, 100,000 distinct (user, item) ratings, as published, with
skewed user activity and item popularity; the
ratings are round(clip(μ + b_u + b_i + ⟨p_u, q_i⟩ + ε, 1, 5)) with rank-`RANK` factors, so a
fit can find them. KuaiRec: a small dense matrix of watch ratios exp(z) − 1 clipped at 0, z
from a rank-2 model, with a few pairs missing.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from envs.data import movielens_files as ml

RANK = 4


class Planted(NamedTuple):
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    age: np.ndarray
    gender: np.ndarray
    occupation: np.ndarray
    genres: np.ndarray
    year: np.ndarray


def planted_movielens(seed: int = 0) -> Planted:
    rng = np.random.default_rng(seed)
    n_users, n_items, n = ml.N_USERS, ml.N_ITEMS, ml.N_RATINGS
    # every user and item rated at least once, then distinct random pairs up to n
    pairs = {(u, rng.integers(n_items)) for u in range(n_users)}
    pairs |= {(rng.integers(n_users), i) for i in range(n_items)}
    user_weight = rng.pareto(1.5, n_users) + 0.2  # skewed activity and popularity, as real
    item_weight = rng.pareto(1.2, n_items) + 0.05
    while len(pairs) < n:
        users = rng.choice(n_users, n, p=user_weight / user_weight.sum())
        items = rng.choice(n_items, n, p=item_weight / item_weight.sum())
        for pair in zip(users.tolist(), items.tolist(), strict=True):
            pairs.add(pair)
            if len(pairs) == n:
                break
    user, item = (np.array(x, np.int32) for x in zip(*sorted(pairs), strict=True))
    p = rng.normal(0, 0.6, (n_users, RANK))
    q = rng.normal(0, 0.6, (n_items, RANK))
    b_u, b_i = rng.normal(0, 0.3, n_users), rng.normal(0, 0.5, n_items)
    score = 3.5 + b_u[user] + b_i[item] + np.sum(p[user] * q[item], 1) + rng.normal(0, 0.3, n)
    genres = (rng.random((n_items, len(ml.GENRES))) < 0.15).astype(int)
    genres[genres.sum(1) == 0, 8] = 1  # every movie has a genre (Drama when none drawn)
    return Planted(
        user=user, item=item, rating=np.clip(np.round(score), 1, 5).astype(int),
        age=rng.integers(7, 74, n_users), gender=rng.integers(0, 2, n_users),
        occupation=rng.integers(0, len(ml.OCCUPATIONS), n_users), genres=genres,
        year=rng.integers(1922, 1999, n_items),
    )  # fmt: skip


def write_official(root: Path, world: Planted) -> Path:
    """`u.data`, `u.item` (latin-1, with one accented title and one missing date) and `u.user`
    as GroupLens ships them (raw ids are 1-based)."""
    root.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(1).permutation(len(world.user))  # u.data is not sorted
    pd.DataFrame({"u": world.user[order] + 1, "i": world.item[order] + 1,
                  "r": world.rating[order], "t": 874_965_758 + order}).to_csv(
        root / "u.data", sep="\t", header=False, index=False)  # fmt: skip
    lines = []
    for i, year in enumerate(world.year):
        title = "Café Society (1995)" if i == 3 else f"Movie {i + 1} ({year})"
        date = "" if i == 266 else f"01-Jan-{year}"
        flags = "|".join(str(g) for g in world.genres[i])
        lines.append(f"{i + 1}|{title}|{date}||http://us.imdb.com/M/title-exact?x|{flags}")
    (root / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    users = [
        f"{u + 1}|{world.age[u]}|{'FM'[world.gender[u]]}|"
        f"{ml.OCCUPATIONS[world.occupation[u]]}|{10000 + u}"
        for u in range(len(world.age))
    ]
    (root / "u.user").write_text("\n".join(users) + "\n")
    return root


def write_recbole(root: Path, world: Planted) -> Path:
    """`ml-100k.inter`, `.item` and `.user`: RecBole's atomic files of the same data."""
    root.mkdir(parents=True, exist_ok=True)
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    inter += [
        f"{u + 1}\t{i + 1}\t{r}\t{874965758 + n}"
        for n, (u, i, r) in enumerate(zip(world.user, world.item, world.rating, strict=True))
    ]
    (root / "ml-100k.inter").write_text("\n".join(inter) + "\n")
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for i, year in enumerate(world.year):
        listed = " ".join(g for g, flag in zip(ml.GENRES, world.genres[i], strict=True) if flag)
        items.append(f"{i + 1}\tMovie {i + 1}\t{'unkonwn' if i == 266 else year}\t{listed}")
    (root / "ml-100k.item").write_text("\n".join(items) + "\n")
    users = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
    users += [
        f"{u + 1}\t{world.age[u]}\t{'FM'[world.gender[u]]}\t"
        f"{ml.OCCUPATIONS[world.occupation[u]]}\t{10000 + u}"
        for u in range(len(world.age))
    ]
    (root / "ml-100k.user").write_text("\n".join(users) + "\n")
    return root


def write_kuairec(root: Path, n_users: int = 60, n_videos: int = 90, seed: int = 0) -> Path:
    """`small_matrix.csv` and `item_categories.csv` as KuaiRec ships them (non-contiguous raw
    ids, a few pairs missing, categories as lists)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    users = np.sort(rng.choice(7000, n_users, replace=False))
    videos = np.sort(rng.choice(10000, n_videos, replace=False))
    z = rng.normal(0, 0.7, (n_users, 2)) @ rng.normal(0, 0.7, (2, n_videos))
    z += rng.normal(-0.3, 0.4, n_videos)
    ratio = np.maximum(np.exp(z) - 1.0 + 0.8, 0.0)
    u, v = np.meshgrid(np.arange(n_users), np.arange(n_videos), indexing="ij")
    keep = rng.random(u.size) > 0.004
    frame = pd.DataFrame({
        "user_id": users[u.ravel()], "video_id": videos[v.ravel()],
        "play_duration": 1000, "video_duration": 1000, "time": "2020-07-05 05:27:48.378",
        "date": 20200705, "timestamp": 1593898068.378, "watch_ratio": ratio.ravel(),
    })[keep]  # fmt: skip
    frame.to_csv(root / "small_matrix.csv", index=False)
    feats = [str(sorted({int(c) for c in rng.integers(0, 31, rng.integers(1, 3))}))
             for _ in videos]  # fmt: skip
    pd.DataFrame({"video_id": videos, "feat": feats}).to_csv(
        root / "item_categories.csv", index=False
    )
    return root
