"""The Open Bandit Dataset (Saito et al. 2020, "Open Bandit Dataset and Pipeline"): ZOZOTOWN's
fashion recommendations, logged under a uniform `random` policy and under Bernoulli Thompson
sampling (`bts`), for the campaigns `all`, `men` and `women`. We estimate the click rate of BTS
from the random log and check it against BTS's own log (its on-policy CTR), as OBD's authors do.

Layout (the full dataset, https://research.zozo.com/data.html, and the 10,000-row samples in
the obp wheel's obp/dataset/obd/): `<root>/<policy>/<campaign>/<campaign>.csv`, one row per
(impression, position) with an unnamed index column, `timestamp` (UTC), `item_id` (0..N-1),
`position` (1..3: left, centre, right), `click` (0/1), `propensity_score` (the logging policy's
probability of that item at that position: 1/N in the random log), `user_feature_0..3` (hashed
category strings) and `user-item_affinity_0..N-1`; and `item_context.csv` (`item_id`, features).

Round i of the random log: position p_i, item a_i, click r_i, propensity μ_i = 1/N. The target
is BTS's per-position action distribution, taken from its log (OBD's TS ignores the user):

    π̂(a | p) = #{j in the bts log: a_j = a, p_j = p} / #{j in the bts log: p_j = p}

(OBP instead recomputes π by Monte Carlo from ZOZOTOWN's Beta prior, which the obp package
ships; we ship no prior, and the log's frequencies are the policy's time-averaged behaviour
over the period the on-policy CTR averages too). The reward model for DM and DR is additive
logistic in the item-position cell and the user's categories,

    q̂(x, a, p) = σ(T[a, p] + Σ_f w_f[code_f(x)] + b),

MAP-fitted on the random log with N(0, 1/λ) priors on T and w. Then `recsim.ope.item` gives
DM, IPS, SNIPS and DR with target π(· | x_i) = π̂(· | p_i) and q̂(x_i, ·) = q̂(x_i, ·, p_i).
"""

import csv
import dataclasses
import functools
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recsim.ope import item
from recsim.ope.estimate import Estimate, from_terms
from recsim.runs import results

CAMPAIGNS = ("all", "men", "women")
REWARD_MODEL = {"l2": 1.0, "steps": 500, "learning_rate": 0.05}  # fit_reward_model's settings
SOURCE = ("get it from https://research.zozo.com/data.html, or use the 10,000-row samples in "
          "the obp wheel's obp/dataset/obd/")  # fmt: skip
ESTIMATORS = ("DM", "IPS", "SNIPS", "DR")
USER_FEATURES = tuple(f"user_feature_{f}" for f in range(4))
COLUMNS = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "item_id": pa.int64(),
    "position": pa.int64(),
    "click": pa.int64(),
    "propensity_score": pa.float64(),
    **{name: pa.dictionary(pa.int32(), pa.string()) for name in USER_FEATURES},
}


class DataError(Exception):
    """The data directory or a file in it is missing or malformed (a one-line message)."""


@dataclasses.dataclass(frozen=True)
class Log:
    """One policy's log of one campaign: n rows, each one item shown at one position."""

    actions: np.ndarray  # [n] int32 item ids in 0..n_items-1
    positions: np.ndarray  # [n] int32 in 0..n_positions-1 (the file's 1..3, minus 1)
    clicks: np.ndarray  # [n] float32 in {0, 1}
    propensities: np.ndarray  # [n] float32 P(a_i at p_i) under the logging policy
    user_codes: np.ndarray  # [n, 4] int32 category codes of user_feature_0..3
    user_levels: tuple[int, ...]  # categories of each user feature
    timestamps: np.ndarray  # [n] datetime64[us] (UTC)
    n_items: int
    n_positions: int
    path: Path  # the <campaign>.csv


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such file; {SOURCE}")
    with path.open(newline="") as file:
        return next(csv.reader(file), [])


def _read(path: Path, columns: dict[str, pa.DataType]) -> pa.Table:
    """The named columns of a csv, after checking they are all in its header."""
    missing = [name for name in columns if name not in _header(path)]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)} (expected {', '.join(columns)})")
    options = pa_csv.ConvertOptions(include_columns=list(columns), column_types=columns)
    try:
        table = pa_csv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as error:
        raise DataError(f"{path}: {str(error).splitlines()[0]}") from None
    if table.num_rows == 0:
        raise DataError(f"{path}: no rows")
    for name in columns:
        if table[name].null_count:
            raise DataError(f"{path}: {name} is empty in {table[name].null_count} rows")
    return table.unify_dictionaries()


def load(path: str | Path, policy: str, campaign: str) -> Log:
    """Reads `<path>/<policy>/<campaign>/<campaign>.csv` and the item count from its
    `item_context.csv`. Raises `DataError` naming the file and what is wrong."""
    directory = Path(path).expanduser() / policy / campaign
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (data.path must hold random/ and "
                        f"bts/, each with all/, men/, women/); {SOURCE}")  # fmt: skip
    items = _read(directory / "item_context.csv", {"item_id": pa.int64()})
    n_items = int(pc.max(items["item_id"]).as_py()) + 1
    file = directory / f"{campaign}.csv"
    table = _read(file, COLUMNS)
    column = {name: table[name].to_numpy() for name in ("item_id", "position", "click")}
    propensities = table["propensity_score"].to_numpy()
    checks = {
        "item_id": (column["item_id"] >= 0) & (column["item_id"] < n_items),
        "position": column["position"] >= 1,
        "click": (column["click"] == 0) | (column["click"] == 1),
        "propensity_score": (propensities > 0) & (propensities <= 1),
    }
    allowed = {"item_id": f"0..{n_items - 1} (item_context.csv)", "position": "1, 2, …",
               "click": "0 or 1", "propensity_score": "in (0, 1]"}  # fmt: skip
    for name, ok in checks.items():
        if not ok.all():
            row = int(np.argmin(ok))
            value = (propensities if name == "propensity_score" else column[name])[row]
            raise DataError(f"{file}: {name}={value} in data row {row + 1}; allowed: "
                            f"{allowed[name]}")  # fmt: skip
    features = [table[name] for name in USER_FEATURES]
    return Log(
        actions=column["item_id"].astype(np.int32),
        positions=(column["position"] - 1).astype(np.int32),
        clicks=column["click"].astype(np.float32),
        propensities=propensities.astype(np.float32),
        user_codes=np.stack([_codes(feature) for feature in features], axis=1),
        user_levels=tuple(len(feature.chunk(0).dictionary) for feature in features),
        timestamps=table["timestamp"].to_numpy(),
        n_items=n_items,
        n_positions=int(column["position"].max()),
        path=file,
    )


def _codes(feature: pa.ChunkedArray) -> np.ndarray:
    """Category codes [n] int32 of a dictionary column (dictionaries unified across chunks)."""
    return np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in feature.chunks]
    ).astype(np.int32)


def target_policy(bts: Log) -> np.ndarray:
    """π̂(a | p) [n_items, n_positions]: the share of the bts log's rows at position p that
    showed item a (each column sums to 1)."""
    counts = np.zeros((bts.n_items, bts.n_positions))
    np.add.at(counts, (bts.actions, bts.positions), 1.0)
    shown = counts.sum(axis=0)
    if (shown == 0).any():
        raise DataError(f"{bts.path}: no rows at position {int(np.argmin(shown)) + 1}")
    return counts / shown


class RewardModel(NamedTuple):
    """q̂(x, a, p) = σ(T[a, p] + Σ_f w_f[code_f(x)] + b)."""

    item_position: jax.Array  # [n_items, n_positions] T
    user: jax.Array  # [Σ_f levels_f] w_f of every feature, one after another
    bias: jax.Array  # [] b


def _flat_codes(log: Log) -> np.ndarray:
    """Indices [n, F] of each row's user categories into `RewardModel.user`."""
    offsets = np.cumsum((0, *log.user_levels[:-1]))
    return (log.user_codes + offsets).astype(np.int32)


def _user_logit(model: RewardModel, codes: jax.Array) -> jax.Array:
    """Σ_f w_f[code_f(x_i)] + b [n]: the user's part of the logit."""
    return jnp.sum(model.user[codes], axis=1) + model.bias


def _groups(log: Log) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log's distinct rows (a, p, user categories) [G, 2 + F] with their numbers of rows
    [G] and of clicks [G]: all the logistic loss depends on (G ≤ N·P·Π_f levels_f, often far
    fewer than n, and the gradient's scatter-adds then cost G, not n)."""
    columns = np.column_stack([log.actions, log.positions, log.user_codes]).astype(np.int64)
    sizes = (log.n_items, log.n_positions, *log.user_levels)
    key = np.ravel_multi_index(tuple(columns.T), sizes)  # one integer per distinct row
    _, first, inverse, rows = np.unique(key, return_index=True, return_inverse=True,
                                        return_counts=True)  # fmt: skip
    clicks = np.bincount(inverse, weights=log.clicks, minlength=len(rows))
    offsets = np.cumsum((0, 0, 0, *log.user_levels[:-1]))  # user codes into RewardModel.user
    keys = (columns[first] + offsets).astype(np.int32)
    return keys, rows.astype(np.float32), clicks.astype(np.float32)


@functools.partial(jax.jit, static_argnames="steps")
def _fit(model, keys, rows, clicks, l2, learning_rate, steps):
    optimiser = optax.adam(learning_rate)
    n = jnp.sum(rows)

    def loss(model):
        logits = model.item_position[keys[:, 0], keys[:, 1]] + _user_logit(model, keys[:, 2:])
        fit = jnp.sum(rows * optax.sigmoid_binary_cross_entropy(logits, clicks / rows)) / n
        return fit + l2 / (2 * n) * (jnp.sum(model.item_position**2) + jnp.sum(model.user**2))

    def step(carry, _):
        model, state = carry
        value, grads = jax.value_and_grad(loss)(model)
        updates, state = optimiser.update(grads, state, model)
        return (optax.apply_updates(model, updates), state), value

    (model, _), losses = jax.lax.scan(step, (model, optimiser.init(model)), None, length=steps)
    return model, losses


def fit_reward_model(
    log: Log, l2: float = 1.0, steps: int = 500, learning_rate: float = 0.05
) -> RewardModel:
    """q̂ fitted full-batch with Adam on the log's rows (never an [n, N] array):

        T, w, b = argmin  mean_i BCE(r_i, q̂(x_i, a_i, p_i)) + λ/(2n) (‖T‖² + ‖w‖²),

    the MAP fit under N(0, 1/λ) priors, so the data outweigh the prior as the log grows
    (sparse cells shrink towards b). b starts at the logit of the mean click; the mean is
    taken over the distinct rows weighted by their counts (`_groups`), which is the same."""
    ctr = np.clip(log.clicks.mean(), 1e-6, 1 - 1e-6)
    init = RewardModel(
        jnp.zeros((log.n_items, log.n_positions)),
        jnp.zeros(sum(log.user_levels)),
        jnp.asarray(np.log(ctr / (1 - ctr)), jnp.float32),
    )
    model, _ = _fit(init, *_groups(log), l2, learning_rate, steps)
    return model


@jax.jit
def _estimates(model, target, actions, positions, codes, clicks, propensities):
    policy = target.T[positions]  # [n, N] π̂(a | p_i)
    reward_model = jax.nn.sigmoid(
        model.item_position.T[positions] + _user_logit(model, codes)[:, None]
    )
    logged = (actions, clicks, propensities, policy)
    return {
        "DM": item.dm(policy, reward_model),
        "IPS": item.ips(*logged),
        "SNIPS": item.snips(*logged),
        "DR": item.dr(*logged, reward_model),
    }


def estimate(log: Log, target: np.ndarray, model: RewardModel | None = None) -> dict[str, Estimate]:
    """DM, IPS, SNIPS and DR of the target π̂ [n_items, n_positions] from the (random) log,
    each with rewards = clicks and μ_i = its propensity_score; q̂ fitted on it unless given.

    The standard errors treat rows as independent (in the full dataset an impression's three
    positions share a user and a moment); DM's covers only the spread of Σ_a π̂ q̂ over users,
    not the error of q̂ itself, so its interval is far too narrow to judge it by."""
    model = fit_reward_model(log) if model is None else model
    arrays = (log.actions, log.positions, _flat_codes(log), log.clicks, log.propensities)
    found = _estimates(model, jnp.asarray(target, jnp.float32), *arrays)
    return {name: Estimate(*(float(x) for x in found[name])) for name in ESTIMATORS}


def on_policy(log: Log) -> Estimate:
    """The log's own CTR, mean_i r_i, with its normal 95% interval."""
    return Estimate(*(float(x) for x in from_terms(jnp.asarray(log.clicks))))


def main(path: str | None, campaign: str, run_dir: Path) -> str:
    """Estimates BTS's CTR from the random log of `campaign`, writes obd.csv and run.json to
    `run_dir` and returns the table to print."""
    if path is None:
        raise DataError("data.path: give the directory holding random/ and bts/ (the Open "
                        f"Bandit Dataset); {SOURCE}")  # fmt: skip
    if campaign not in CAMPAIGNS:
        raise DataError(f"data.campaign={campaign}: choose {', '.join(CAMPAIGNS)}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path={path}: no such directory; {SOURCE}")
    random, bts = load(root, "random", campaign), load(root, "bts", campaign)
    if (random.n_items, random.n_positions) != (bts.n_items, bts.n_positions):
        raise DataError(f"{root}: random/{campaign} has {random.n_items} items and "
                        f"{random.n_positions} positions, bts/{campaign} {bts.n_items} and "
                        f"{bts.n_positions}")  # fmt: skip
    target = target_policy(bts)
    estimates = estimate(random, target, fit_reward_model(random, **REWARD_MODEL))
    truth = on_policy(bts)
    frame = pd.DataFrame(
        [{"estimator": name, **value._asdict()} for name, value in estimates.items()]
    ).rename(columns={"value": "estimate"})
    frame["on_policy_ctr"] = truth.value
    frame["relative_error"] = (frame["estimate"] - truth.value).abs() / truth.value
    run_dir.mkdir(parents=True, exist_ok=True)
    results.write_atomic(run_dir / "obd.csv", lambda tmp: frame.to_csv(tmp, index=False))
    rows = {"random": len(random.clicks), "bts": len(bts.clicks)}
    clicks = {"random": int(random.clicks.sum()), "bts": int(bts.clicks.sum())}
    info = {
        "data": "obd",
        "path": str(root.resolve()),
        "campaign": campaign,
        "rows": rows,
        "clicks": clicks,
        "n_items": random.n_items,
        "n_positions": random.n_positions,
        "estimates": {name: value._asdict() for name, value in estimates.items()},
        "on_policy_ctr": truth._asdict(),
        "reward_model": REWARD_MODEL,
        "target_policy": target.tolist(),  # π̂(a | p) [n_items][n_positions]
        "git_sha": results.git_sha(),
        **results.environment_info(),
    }
    results.write_json(run_dir / "run.json", info)
    header = (f"Open Bandit Dataset {root}, campaign {campaign}: Bernoulli TS's CTR from the "
              f"random log ({rows['random']:,} rows, {clicks['random']} clicks) against its "
              f"own log ({rows['bts']:,} rows, {clicks['bts']} clicks)")  # fmt: skip
    lines = [header, f"{'estimator':<10}{'estimate':>10}  {'95% CI':<20}{'relative error':>15}"]
    for row in frame.itertuples():
        interval = f"[{row.low:.5f}, {row.high:.5f}]"
        lines.append(f"{row.estimator:<10}{row.estimate:>10.5f}  {interval:<20}"
                     f"{row.relative_error:>15.3f}")  # fmt: skip
    lines.append(f"{'on-policy':<10}{truth.value:>10.5f}  [{truth.low:.5f}, {truth.high:.5f}]"
                 "  (bts's CTR: the mean click of its log)")  # fmt: skip
    lines.append("(DM's interval leaves out the reward model's own error; IPS and DR assume "
                 "only the logged propensities)")  # fmt: skip
    lines.append(f"results: {run_dir}")
    return "\n".join(lines)
