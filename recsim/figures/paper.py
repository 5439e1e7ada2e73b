"""Paper figures from a sweep's merged results (`sweep.parquet`, `summary.csv`): the trade-off
between accuracy and the other families, a metric against a grid knob, and the best
configuration per metric.

Used by the notebooks and by `python -m experiments.aggregate --figures`. Every figure gets
labelled axes and one colour per configuration kept the same across figures
(`bands.palette`).
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recsim.core import metric_table
from recsim.core.metric_table import TRADEOFF_X, label
from recsim.figures.bands import bounds, legend, palette
from recsim.runs.stats import mean_and_ci


def tradeoff(
    summary: pd.DataFrame,
    by: str,
    x_metrics: Sequence[str] = TRADEOFF_X,
    y_metric: str = "expected_ctr",
    colours: dict[str, tuple] | None = None,
    title: str = "",
) -> Figure:
    """Final y_metric against each final x metric: a point per configuration with 95% CI bars."""
    summary = summary.assign(**{by: summary[by].astype(str)})
    colours = colours or palette(summary[by])
    wide = summary.pivot_table(index=by, columns="metric", values=["final_mean", "final_ci95"])
    fig = Figure(figsize=(4.6 * len(x_metrics) + 1.6, 3.8))
    axes = fig.subplots(1, len(x_metrics), squeeze=False)
    for ax, x_metric in zip(axes[0], x_metrics, strict=True):
        for name in wide.index:
            ax.errorbar(
                wide.loc[name, ("final_mean", x_metric)],
                wide.loc[name, ("final_mean", y_metric)],
                xerr=wide.loc[name, ("final_ci95", x_metric)],
                yerr=wide.loc[name, ("final_ci95", y_metric)],
                fmt="o", color=colours[name], label=name, capsize=3,
            )  # fmt: skip
        ax.set_xlabel(f"final {label(x_metric)}")
        ax.set_ylabel(f"final {label(y_metric)}")
        ax.grid(alpha=0.3)
    legend(fig, axes[0][0], by)
    if title:
        fig.suptitle(title)
    return fig


def knob(
    frame: pd.DataFrame,
    knob_column: str,
    metrics: Sequence[str],
    final_steps: int = 1,
    title: str = "",
) -> Figure:
    """Final value of each metric against a grid knob, mean ± 95% CI across seeds."""
    last = sorted(frame["step"].unique())[-final_steps:]
    final = frame[frame["step"].isin(last)].groupby([knob_column, "seed"])[list(metrics)].mean()
    fig = Figure(figsize=(4.2 * len(metrics), 3.4))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = [(value, *mean_and_ci(group[metric])[:2])
                for value, group in final.groupby(level=0)]  # fmt: skip
        values, means, cis = (np.asarray(column, float) for column in zip(*rows, strict=True))
        ax.plot(values, means, marker="o", color="tab:blue")
        low, high = bounds(metric)
        lower, upper = np.maximum(means - cis, low), np.minimum(means + cis, high)
        ax.fill_between(values, lower, upper, alpha=0.2, color="tab:blue")
        ax.set_xlabel(knob_column)
        ax.set_ylabel(f"final {label(metric)}")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def best_per_metric(summary: pd.DataFrame, by: str) -> pd.DataFrame:
    """`final_mean` table (configurations × metrics) and, per metric, the best configuration
    by the metric's `better` direction in the metric table: highest, lowest, or closest to
    zero; metrics with no better direction (descriptive ones) get none."""
    table = summary.pivot_table(index=by, columns="metric", values="final_mean")
    table = table[[m for m in metric_table.METRIC_NAMES if m in table.columns]]
    pick = {"higher": "idxmax", "lower": "idxmin"}
    best = {}
    for name in table.columns:
        better = metric_table.BY_NAME[name].better
        if better == "none" or not table[name].notna().any():
            continue
        column = table[name].abs() if better == "zero" else table[name]
        best[name] = getattr(column, pick.get(better, "idxmin"))()
    return table, best


def highlight_best(summary: pd.DataFrame, by: str):
    """A pandas Styler of `best_per_metric` with each metric's best configuration in bold."""
    table, best = best_per_metric(summary, by)

    def style(column: pd.Series) -> list[str]:
        winner = best.get(column.name)
        return ["font-weight: bold; background-color: #d9f2d9" if index == winner else ""
                for index in column.index]  # fmt: skip

    return table.style.apply(style, axis=0).format("{:.4f}")


def forest(
    table: pd.DataFrame,
    by: str,
    metrics: Sequence[str],
    measure: str = "final",
    colours: dict[str, tuple] | None = None,
    title: str = "",
) -> Figure:
    """Paired differences to the baseline (`compare.csv`): a panel per metric, a row per
    configuration; the point is the mean difference over seeds, the thick bar its 95% paired-t
    CI, the thin bar its bootstrap CI; the dashed line is no difference. A configuration
    whose interval misses the line differs from the baseline at that level (before Holm's
    adjustment, which `p_holm` in the table gives). A family none of whose metrics has a row
    (not measured for both sides of any pair) gets a figure saying so."""
    table = table[(table["measure"] == measure) & table["metric"].isin(metrics)]
    table = table.assign(**{by: table[by].astype(str)})
    names = sorted(table[by].unique())
    colours = colours or palette(names)
    shown = [m for m in metrics if m in set(table["metric"])]
    if not shown:  # e.g. the cold-start metrics of a sweep without item churn
        fig = Figure(figsize=(5.4, 2.0))
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"not applicable: no paired difference of\n{', '.join(metrics)}",
                ha="center", va="center", transform=ax.transAxes)  # fmt: skip
        return fig
    fig = Figure(figsize=(3.6 * len(shown) + 1.8, 0.45 * len(names) + 1.6))
    axes = fig.subplots(1, len(shown), squeeze=False, sharey=True)
    for ax, metric in zip(axes[0], shown, strict=True):
        rows = table[table["metric"] == metric].set_index(by)
        for position, name in enumerate(names):
            if name not in rows.index:
                continue
            row = rows.loc[name]
            colour = colours[name]
            ax.plot([row["ci_boot_low"], row["ci_boot_high"]], [position, position],
                    color=colour, linewidth=1)  # fmt: skip
            ax.plot([row["ci_t_low"], row["ci_t_high"]], [position, position],
                    color=colour, linewidth=4, alpha=0.6, solid_capstyle="butt")  # fmt: skip
            ax.plot(row["diff"], position, "o", color=colour, label=name)
        ax.axvline(0.0, color="0.3", linestyle="--", linewidth=1)
        ax.set_xlabel(f"Δ {measure} {label(metric)}")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)  # the first name on top
        ax.grid(axis="x", alpha=0.3)
    baseline = table["baseline"].iloc[0] if len(table) else ""
    fig.suptitle(title or f"paired difference to {baseline} (95% CI: t thick, bootstrap thin)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig
