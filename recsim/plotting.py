"""Curves with confidence bands across seeds.

Figures are `matplotlib.figure.Figure` objects made without pyplot: no global backend or
figure registry is touched, so this works the same in scripts, sweeps and notebooks.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from recsim.metrics import METRIC_NAMES


def mean_and_ci(values: pd.Series | np.ndarray, level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the Student-t confidence interval, and n (half-width 0 for n < 2)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, 0.0, n
    sem = values.std(ddof=1) / math.sqrt(n)
    return mean, float(stats.t.ppf(0.5 + level / 2, n - 1) * sem), n


def band_table(frame: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """Per (by…, step): mean and 95% CI half-width of `metric` across seeds."""
    groups = frame.groupby([*by, "step"], sort=True)[metric]
    stats_ = groups.apply(lambda s: pd.Series(mean_and_ci(s)[:2], index=["mean", "ci"]))
    return stats_.unstack(-1).reset_index()


def plot_curves(
    frame: pd.DataFrame,
    path: Path,
    by: list[str] | None = None,
    title: str = "",
    metrics: tuple[str, ...] = METRIC_NAMES,
) -> None:
    """One panel per metric over steps; one line per `by` group, mean ± 95% CI across seeds."""
    by = by or []
    cols = 4
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        ax.set_title(metric)
        if frame[metric].isna().all():
            ax.text(0.5, 0.5, "not applicable", ha="center", va="center", transform=ax.transAxes)
            continue
        table = band_table(frame, metric, by)
        lines = table.groupby(by, sort=True) if by else [((), table)]
        for label, line in lines:
            name = ", ".join(f"{b}={v}" for b, v in zip(by, label, strict=True))
            ax.plot(line["step"], line["mean"], label=name or None)
            ax.fill_between(line["step"], line["mean"] - line["ci"], line["mean"] + line["ci"],
                            alpha=0.25)  # fmt: skip
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    if by:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        spare = list(axes.flat)[len(metrics) :]
        if spare:  # the legend gets an empty panel of its own when there is one
            spare[0].legend(handles, labels, fontsize="small", loc="upper left")
        else:
            axes.flat[0].legend(fontsize="small")
    n_seeds = frame["seed"].nunique()
    fig.suptitle(f"{title}  (mean ± 95% CI over {n_seeds} seeds)".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
