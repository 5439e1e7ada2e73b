"""Reading MovieLens-100K (F. M. Harper and J. A. Konstan, 2015, "The MovieLens Datasets:
History and Context") from a directory the user gives, in either of its two common layouts:

- the official `ml-100k/` of GroupLens: `u.data` (user, item, rating, timestamp; tabs),
  `u.item` (id | title | release date | video release date | IMDb URL | 19 genre flags;
  latin-1) and `u.user` (id | age | gender | occupation | zip code);
- RecBole's atomic files: `ml-100k.inter`, `ml-100k.item` (genres as a space-separated
  `class` field) and `ml-100k.user`, each with a `name:type` header row.

The data is never shipped with recsim (its licence forbids redistribution): the user downloads
it once from GroupLens. What is read is validated against the published counts (100,000
ratings, 943 users, 1,682 items, ratings 1-5), so a truncated or different file is named in
one line rather than fitted silently.
"""

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from envs.data import one_line
from recsim.core.validation import ConfigError

SOURCE = "https://grouplens.org/datasets/movielens/100k/"
N_RATINGS, N_USERS, N_ITEMS = 100_000, 943, 1_682
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
    "programmer", "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip
AGE_EDGES = (18, 25, 35, 45, 50, 56)
"""Age buckets (MovieLens-1M's): under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56 and over."""
OFFICIAL = ("u.data", "u.item", "u.user")
RECBOLE = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")


class MovieLens(NamedTuple):
    """MovieLens-100K with users and items re-indexed 0..M-1 and 0..N-1 (sorted raw ids)."""

    user: np.ndarray  # [R] int32 user index of each rating
    item: np.ndarray  # [R] int32 item index
    rating: np.ndarray  # [R] float32 in 1..5
    age: np.ndarray  # [M] int32 age in years
    gender: np.ndarray  # [M] int32: 0 F, 1 M
    occupation: np.ndarray  # [M] int32 index into OCCUPATIONS
    genres: np.ndarray  # [N, 19] float32 flags, in GENRES order
    year: np.ndarray  # [N] float32 release year (the median where the file has none)
    digest: str  # sha256 of the three files' bytes


def missing_message(key: str, data_dir: str) -> str:
    return (
        f"{key}={data_dir!r} holds no MovieLens-100K (want {', '.join(OFFICIAL)} or "
        f"{', '.join(RECBOLE)}): download ml-100k.zip from {SOURCE}, unzip it and pass "
        f"{key}=/path/to/ml-100k"
    )


def load(data_dir: str, key: str = "env.data_dir") -> MovieLens:
    """The validated data in `data_dir` (`key` names the config key in errors)."""
    import pandas as pd  # here: a usage error of `experiments.run` must not wait for it

    root = Path(data_dir).expanduser()
    if all((root / name).is_file() for name in OFFICIAL):
        names, read = OFFICIAL, _read_official
    elif all((root / name).is_file() for name in RECBOLE):
        names, read = RECBOLE, _read_recbole
    else:
        raise ConfigError(missing_message(key, data_dir))
    paths = [root / name for name in names]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    try:
        ratings, users, items = read(*paths)
    except (ValueError, KeyError, IndexError, pd.errors.ParserError) as error:
        raise ConfigError(f"{key}={data_dir!r}: cannot parse {root}: {one_line(error)}") from None
    return _validated(ratings, users, items, digest.hexdigest(), root)


def _read_official(data: Path, item: Path, user: Path):
    import pandas as pd

    ratings = pd.read_csv(data, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    items = pd.read_csv(item, sep="|", header=None, encoding="latin-1", quoting=3)
    if items.shape[1] != 5 + len(GENRES):
        raise ValueError(f"{item.name} has {items.shape[1]} fields, not {5 + len(GENRES)}")
    release = pd.to_datetime(items[2], format="%d-%b-%Y", errors="coerce")
    items = pd.DataFrame(
        {"item": items[0], "year": release.dt.year}
        | {g: items[5 + j] for j, g in enumerate(GENRES)}
    )
    users = pd.read_csv(user, sep="|", header=None, names=["user", "age", "gender", "job", "zip"])
    return ratings, users, items


def _read_recbole(inter: Path, item: Path, user: Path):
    import pandas as pd

    def atomic(path):  # header "name:type" -> name
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
        return frame.rename(columns=lambda c: c.split(":")[0])

    ratings = atomic(inter).rename(columns={"user_id": "user", "item_id": "item"})
    ratings = ratings.astype({"user": int, "item": int, "rating": float})
    raw = atomic(item)
    genres = raw["class"].str.split(" ")
    items = pd.DataFrame(
        {"item": raw["item_id"].astype(int),
         "year": pd.to_numeric(raw["release_year"], errors="coerce")}
        | {g: genres.map(lambda listed, g=g: int(g in listed)) for g in GENRES}
    )  # fmt: skip
    unknown = set(genres.explode()) - set(GENRES) - {""}
    if unknown:
        raise ValueError(f"{item.name} lists genres not in MovieLens-100K: {sorted(unknown)}")
    users = atomic(user).rename(columns={"user_id": "user", "occupation": "job"})
    users = users.astype({"user": int, "age": int})
    return ratings, users, items


def _validated(ratings, users, items, digest: str, root: Path) -> MovieLens:
    import pandas as pd

    def wrong(what: str) -> ConfigError:
        return ConfigError(f"{root}: {what}; expected MovieLens-100K as published at {SOURCE}")

    counts = (len(ratings), users["user"].nunique(), items["item"].nunique())
    if counts != (N_RATINGS, N_USERS, N_ITEMS) or len(users) != N_USERS or len(items) != N_ITEMS:
        raise wrong(f"{counts[0]} ratings, {len(users)} users, {len(items)} items")
    rating = ratings["rating"].to_numpy(np.float64)
    if not np.isin(rating, [1, 2, 3, 4, 5]).all():
        raise wrong(f"ratings {sorted(set(rating[~np.isin(rating, [1, 2, 3, 4, 5])]))[:3]} "
                    "outside the integers 1-5")  # fmt: skip
    users, items = users.sort_values("user"), items.sort_values("item")
    user_index = pd.Index(users["user"])
    item_index = pd.Index(items["item"])
    u, i = user_index.get_indexer(ratings["user"]), item_index.get_indexer(ratings["item"])
    if (u < 0).any() or (i < 0).any():
        raise wrong("ratings name users or items that the user or item file lacks")
    if ratings.duplicated(["user", "item"]).any():
        raise wrong("a user rates an item twice")
    jobs = users["job"].map({job: n for n, job in enumerate(OCCUPATIONS)})
    if jobs.isna().any():
        raise wrong(f"occupations not in MovieLens-100K: {sorted(set(users['job'][jobs.isna()]))}")
    gender = users["gender"].map({"F": 0, "M": 1})
    if gender.isna().any():
        raise wrong("genders other than F and M")
    year = items["year"].to_numpy(np.float64)
    year = np.where(np.isnan(year), np.nanmedian(year), year)
    return MovieLens(
        user=u.astype(np.int32),
        item=i.astype(np.int32),
        rating=rating.astype(np.float32),
        age=users["age"].to_numpy(np.int32),
        gender=gender.to_numpy(np.int32),
        occupation=jobs.to_numpy(np.int32),
        genres=items[list(GENRES)].to_numpy(np.float32),
        year=year.astype(np.float32),
        digest=digest,
    )
