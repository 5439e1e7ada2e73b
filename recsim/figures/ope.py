"""The off-policy evaluation figure: each estimator's estimate of each target against the
truth as the log grows, and its error (|bias| and RMSE over seeds) against the log size."""

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from recsim.figures.bands import palette
from recsim.ope.simulated import ALL_ESTIMATORS


def ope(errors: pd.DataFrame, title: str = "") -> Figure:
    """Top row: per target, the mean estimate over seeds of every estimator (± 95% CI of that
    mean) and the truth (black) against rounds logged. Bottom row: per target, RMSE (solid)
    and |bias| (dotted) against rounds, log-log. `errors`: `recsim.ope.report.errors`."""
    targets = list(dict.fromkeys(errors["target"]))
    estimators = [e for e in ALL_ESTIMATORS if errors.loc[errors["estimator"] == e,
                                                          "estimate"].notna().any()]  # fmt: skip
    colours = palette(estimators, ALL_ESTIMATORS)
    columns = len(targets)
    fig = Figure(figsize=(3.2 * columns, 6.4), layout="constrained")
    axes = fig.subplots(2, columns, squeeze=False)
    for column, target in enumerate(targets):
        top, bottom = axes[0, column], axes[1, column]
        rows = errors[errors["target"] == target]
        truth = rows[rows["estimator"] == estimators[0]]
        top.plot(truth["rounds"], truth["truth"], color="black", lw=2, label="truth")
        for estimator in estimators:
            line = rows[rows["estimator"] == estimator]
            colour = colours[estimator]
            top.plot(line["rounds"], line["estimate"], color=colour, lw=1, label=estimator)
            half = 1.96 * line["bias_se"]
            top.fill_between(line["rounds"], line["estimate"] - half, line["estimate"] + half,
                             color=colour, alpha=0.15, lw=0)  # fmt: skip
            bottom.plot(line["rounds"], line["rmse"], color=colour, lw=1.2, label=estimator)
            bottom.plot(line["rounds"], line["bias"].abs(), color=colour, lw=1, ls=":")
        low, high = _sensible_range(truth["truth"].to_numpy())
        top.set_ylim(low, high)
        top.set_title(target, fontsize=10)
        top.set_xscale("log")
        bottom.set_xscale("log")
        bottom.set_yscale("log")
        bottom.set_xlabel("rounds logged (per seed)")
        for ax in (top, bottom):
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("clicks per visit: estimate (mean over seeds)")
    axes[1, 0].set_ylabel("RMSE (solid), |bias| (dotted)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _sensible_range(truth: np.ndarray) -> tuple[float, float]:
    """The truth's range widened to half its size or 0.1 either side: wild early estimates
    (a few rounds, huge weights) would otherwise flatten every line."""
    low, high = float(np.nanmin(truth)), float(np.nanmax(truth))
    pad = max(0.5 * (high - low), 0.1 * max(abs(high), 1e-3), 0.05)
    return (max(low - pad, 0.0) if math.isfinite(low) else 0.0), high + pad
