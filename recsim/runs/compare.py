"""Paired comparisons to a baseline configuration (`compare.csv`), from common random numbers.

Every simulation of seed number s sees the same world, the same arriving users and the same
click noise whatever the configuration (`recsim.core.keys`), so configuration C and baseline B
are compared seed by seed. For a metric and a measure (`final`: its value at the last logged
step; `auc`: the mean of its logged values, i.e. the area under its curve over the horizon),
with x_{C,s} and x_{B,s} the per-seed values over the n shared seeds:

    d_s = x_{C,s} − x_{B,s}                     paired difference
    diff = mean_s d_s
    ci_t = diff ± t_{0.975, n−1} · sd(d) / √n   paired t (sd with ddof 1)
    ci_boot = 95% BCa bootstrap of mean(d)      9,999 resamples of the seeds, fixed generator
                                                (percentile where BCa is undefined)
    p_value = two-sided paired t-test of mean(d) = 0
    p_holm = Holm's step-down adjustment of p_value over the configurations compared (per
             metric and measure): p_(i) · (m − i + 1), running maximum, capped at 1; NaN
             p-values (fewer than 2 seeds) stay NaN and do not count in m
    variance_reduction = (var(x_C) + var(x_B)) / var(d)
                         = var of the unpaired difference / var of the paired difference:
                         what pairing (common random numbers) buys; > 1 when they correlate

When every d_s is the same to float32 rounding (spread ≤ 10⁻⁶ of the values' scale), there is
no spread to test: p_value is 1 if they are 0 (to that rounding) and 0 otherwise, both
intervals collapse to diff, and variance_reduction is inf (NaN when neither side varies: 0/0).
A metric that one side does not measure (NaN, e.g. model metrics of a baseline) gets no row.

A configuration is paired with the baseline configuration that agrees with it on every other
varying column (e.g. `exploration=ucb` with `exploration=greedy` of the same agent); when the
baseline is a single configuration, everything is paired with it. The two must have the same
world and horizon (every `env…` column, the master seed, `steps`, `log_every`) and the same
seed numbers, or the comparison is refused (`CompareError`).
"""

import warnings
from typing import Any

import numpy as np
import pandas as pd

from recsim.core.metric_table import METRIC_NAMES

BOOTSTRAP_RESAMPLES = 9999
TIED = 1e-6  # differences within this share of the values' scale are float32 rounding (ε ≈ 1.2e-7)
MEASURES = ("final", "auc")
COLUMNS = ["baseline", "metric", "measure", "n_seeds", "baseline_mean", "mean", "diff",
           "ci_t_low", "ci_t_high", "ci_boot_low", "ci_boot_high", "p_value", "p_holm",
           "variance_reduction"]  # fmt: skip


class CompareError(ValueError):
    """The comparison cannot be made as asked; the message is one line."""


def parse_baseline(text: str) -> tuple[str, str]:
    """`"exploration=greedy"` -> ("exploration", "greedy")."""
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise CompareError(f"baseline={text!r}: expected KEY=VALUE, e.g. exploration=greedy")
    return key.strip(), value.strip()


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count in m)."""
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p_values, np.nan)
    valid = np.flatnonzero(~np.isnan(p_values))
    order = valid[np.argsort(p_values[valid], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def paired_stats(x: np.ndarray, baseline: np.ndarray, seed: int = 0) -> dict[str, float]:
    """The paired statistics of the module docstring for per-seed values `x`, `baseline` [n]
    (same seed order)."""
    x, baseline = np.asarray(x, np.float64), np.asarray(baseline, np.float64)
    d = x - baseline
    n = d.size
    out = {"n_seeds": n, "baseline_mean": baseline.mean(), "mean": x.mean(), "diff": d.mean()}
    nan = float("nan")
    if n < 2:
        return {**out, "ci_t_low": nan, "ci_t_high": nan, "ci_boot_low": nan,
                "ci_boot_high": nan, "p_value": nan, "variance_reduction": nan}  # fmt: skip
    sd = d.std(ddof=1)
    unpaired = x.var(ddof=1) + baseline.var(ddof=1)
    scale = max(1.0, np.abs(x).max(), np.abs(baseline).max())
    if np.ptp(d) <= TIED * scale:  # every seed differs by the same amount, to float32 rounding
        p_value = 1.0 if abs(d.mean()) <= TIED * scale else 0.0
        low = high = boot_low = boot_high = d.mean()
        reduction = float("inf") if unpaired > 0 else nan
    else:
        from scipy import stats  # here: it costs 0.6 s to import, and few runs compare

        half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
        low, high = d.mean() - half, d.mean() + half
        p_value = stats.ttest_rel(x, baseline).pvalue
        boot_low, boot_high = _bootstrap(d, seed)
        reduction = unpaired / sd**2
    return {**out, "ci_t_low": low, "ci_t_high": high, "ci_boot_low": boot_low,
            "ci_boot_high": boot_high, "p_value": float(p_value),
            "variance_reduction": reduction}  # fmt: skip


def _bootstrap(d: np.ndarray, seed: int) -> tuple[float, float]:
    """95% BCa bootstrap interval of mean(d); the percentile interval where BCa is undefined
    (a few seeds with tied values make its acceleration 0/0)."""
    from scipy import stats

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (stats.DegenerateDataWarning, RuntimeWarning))
            low, high = stats.bootstrap(
                (d,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=0.95,
                method=method, rng=np.random.default_rng(seed),
            ).confidence_interval  # fmt: skip
        if np.isfinite(low) and np.isfinite(high):
            return float(low), float(high)
    return float("nan"), float("nan")


def _world_columns(by: list[str]) -> list[str]:
    fixed = ("env", "override.seed", "steps", "log_every")
    return [c for c in by if c in fixed or c.startswith("env.")]


def _matches(value: Any, wanted: str) -> bool:
    if str(value) == wanted:
        return True
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return False


def _describe(config: pd.Series) -> str:
    return " ".join(f"{column}={value}" for column, value in config.items())


def pairs(frame: pd.DataFrame, by: list[str], key: str, value: str) -> list[tuple[dict, dict]]:
    """(configuration, its baseline configuration) for every configuration that is not a
    baseline, each as {column: value} over `by` (see the module docstring for the rule)."""
    if key not in by:
        varying = ", ".join(by) or "none"
        raise CompareError(f"baseline key {key!r} does not vary in this sweep (varying: {varying})")
    configs = frame[by].drop_duplicates().reset_index(drop=True)
    is_base = configs[key].map(lambda v: _matches(v, value))
    bases, others = configs[is_base], configs[~is_base]
    if bases.empty:
        values = ", ".join(sorted(configs[key].astype(str).unique()))
        raise CompareError(f"baseline {key}={value}: no configuration has it ({key}: {values})")
    rest = [c for c in by if c != key]
    world = _world_columns(by)
    found = []
    for _, config in others.iterrows():
        same = bases[(bases[rest] == config[rest]).all(axis=1)] if rest else bases
        if len(same) != 1 and len(bases) == 1:
            same = bases
        if len(same) != 1:
            raise CompareError(f"{_describe(config)}: no single baseline with {key}={value} "
                               f"agrees with it on {', '.join(rest)}")  # fmt: skip
        base = same.iloc[0]
        differ = [c for c in world if str(config[c]) != str(base[c])]
        if differ:
            raise CompareError(f"{_describe(config)}: its world differs from the baseline's "
                               f"({', '.join(f'{c}={base[c]}' for c in differ)}); "
                               "pair only within the same world")  # fmt: skip
        found.append((config.to_dict(), base.to_dict()))
    return found


def per_seed(frame: pd.DataFrame, config: dict[str, Any], metric: str) -> pd.DataFrame:
    """Per seed: the metric's final value and AUC (mean over logged steps) for one config."""
    rows = frame
    for column, value in config.items():
        rows = rows[rows[column] == value]
    rows = rows.sort_values(["seed", "step"])
    grouped = rows.groupby("seed")[metric]
    return pd.DataFrame({"final": grouped.last(), "auc": grouped.mean()})


def compare(frame: pd.DataFrame, by: list[str], baseline: str) -> pd.DataFrame:
    """`compare.csv`: one row per (configuration, metric, measure); see the module docstring.

    Args:
      frame: a sweep's merged rows (`sweep.parquet`).
      by: the columns that tell configurations apart (`sweep.configuration_columns`).
      baseline: `KEY=VALUE`, e.g. `exploration=greedy`.
    """
    key, value = parse_baseline(baseline)
    rows = []
    for config, base in pairs(frame, by, key, value):
        for metric in (m for m in METRIC_NAMES if m in frame.columns):  # older sweeps lack some
            mine, theirs = per_seed(frame, config, metric), per_seed(frame, base, metric)
            if mine.isna().all().all() or theirs.isna().all().all():
                continue  # not measured for one of them (e.g. model metrics of a baseline)
            if list(mine.index) != list(theirs.index):
                raise CompareError(f"{_describe(pd.Series(config))}: seeds {list(mine.index)} "
                                   f"differ from the baseline's {list(theirs.index)}; "
                                   "pair only the same seed numbers")  # fmt: skip
            for measure in MEASURES:
                result = paired_stats(mine[measure].to_numpy(), theirs[measure].to_numpy())
                rows.append({**config, "baseline": f"{key}={value}", "metric": metric,
                             "measure": measure, **result})  # fmt: skip
    table = pd.DataFrame(rows, columns=[*by, *COLUMNS])
    for _, group in table.groupby(["metric", "measure"], sort=False):
        table.loc[group.index, "p_holm"] = holm(group["p_value"].to_numpy())
    return table
