"""Paper figures from a sweep's merged results (`sweep.parquet`, `summary.csv`).

Used by the notebooks and by `python -m experiments.aggregate --figures`. Every figure gets
labelled axes, one colour per configuration kept the same across figures (`palette`), and can
be saved as PNG and PDF (`save`). Figures are made without pyplot (see `recsim.plotting`); in
a notebook, `display(fig)` shows one.
"""

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recsim.plotting import band_table, mean_and_ci

LABELS = {
    "ctr": "CTR (clicks / impression)",
    "expected_ctr": "expected CTR (click prob. / impression)",
    "regret": "regret (expected clicks / visit)",
    "cum_regret": "cumulative regret (expected clicks)",
    "precision_at_k": "precision@k",
    "ndcg_at_k": "NDCG@k",
    "ild": "intra-list diversity (cosine distance)",
    "coverage": "catalogue coverage (share of items)",
    "novelty": "novelty (bits)",
    "exposure_gini": "exposure Gini (0 = equal)",
    "exposure_entropy": "exposure entropy (bits)",
    "excess_group_gap": "group CTR gap beyond the oracle's (+ widens)",
    "group_regret_gap": "group regret gap (max − min)",
    "new_item_exposure": "new-item share of impressions",
    "new_item_recall": "new items of the best slates shown (so far)",
    "churn_rate": "users leaving per visit",
    "user_lifetime": "visits per user (so far)",
    "user_homogeneity": "user homogeneity (mean pairwise cos u·u')",
    "consumption_overlap": "consumption overlap (mean pairwise Jaccard)",
    "explore_fraction": "explored share of slots",
    "prediction_mae": "prediction MAE (mean |p̂ − a| over items)",
    "preference_spearman": "preference recovery (Spearman ρ)",
    "greedy_ndcg": "NDCG@k of the model's own greedy top-k",
}
FAMILIES = {
    "accuracy": ("expected_ctr", "cum_regret"),
    "diversity": ("ild", "coverage"),
    "novelty": ("novelty",),
    "fairness": ("exposure_gini", "excess_group_gap"),
    "cold_start": ("new_item_exposure", "new_item_recall"),
    "engagement": ("churn_rate", "user_lifetime"),
    "homogenisation": ("user_homogeneity", "consumption_overlap"),
    "model": ("preference_spearman", "greedy_ndcg"),
}
TRADEOFF_X = ("ild", "novelty", "exposure_gini")


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def palette(names: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per name: sorted names take the colours of tab10 (then tab20) in order,
    so a strategy has the same colour in every figure of a sweep."""
    ordered = sorted({str(n) for n in names})
    colours = matplotlib.colormaps["tab10" if len(ordered) <= 10 else "tab20"].colors
    return {name: colours[i % len(colours)] for i, name in enumerate(ordered)}


def curves(
    frame: pd.DataFrame,
    by: str,
    metrics: Sequence[str],
    colours: dict[str, tuple] | None = None,
    title: str = "",
) -> Figure:
    """Metric over steps, one line per value of `by`, mean ± 95% CI across seeds."""
    colours = colours or palette(frame[by].astype(str))
    fig = Figure(figsize=(4.6 * len(metrics) + 1.6, 3.6))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        table = band_table(frame.assign(**{by: frame[by].astype(str)}), metric, [by])
        for name, line in table.groupby(by, sort=True):
            colour = colours[name]
            ax.plot(line["step"], line["mean"], color=colour, label=name)
            ax.fill_between(line["step"], line["mean"] - line["ci"], line["mean"] + line["ci"],
                            color=colour, alpha=0.2, linewidth=0)  # fmt: skip
        ax.set_xlabel("step (users arrive in batches)")
        ax.set_ylabel(label(metric))
        ax.grid(alpha=0.3)
    _legend(fig, axes[0][0], by)
    if title:
        fig.suptitle(title)
    return fig


def _legend(fig: Figure, ax: Axes, title: str) -> None:
    """One legend for the whole figure, to the right of the panels."""
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1 - 1.7 / fig.get_figwidth(), 1))  # 1.7 in for the legend
    fig.legend(handles, labels, title=title, loc="center right", fontsize="small")


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
    _legend(fig, axes[0][0], by)
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
        ax.fill_between(values, means - cis, means + cis, alpha=0.2, color="tab:blue")
        ax.set_xlabel(knob_column)
        ax.set_ylabel(f"final {label(metric)}")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


NO_BEST = ("explore_fraction", "user_homogeneity", "consumption_overlap")
"""Metrics without a better direction in general (descriptive, not a score)."""
CLOSEST_TO_ZERO = ("excess_group_gap",)
"""Signed metrics whose best value is 0."""


def best_per_metric(summary: pd.DataFrame, by: str) -> pd.DataFrame:
    """`final_mean` table (configurations × metrics) and, per metric, the best configuration:
    highest, except for regret, prediction MAE, Gini, gaps and churn, where lowest is best, the
    signed `CLOSEST_TO_ZERO` metrics (`NO_BEST` metrics have no best)."""
    table = summary.pivot_table(index=by, columns="metric", values="final_mean")
    table = table[[m for m in LABELS if m in table.columns]]
    lower = [
        m for m in table.columns if any(w in m for w in ("regret", "mae", "gini", "gap", "churn"))
    ]
    best = {
        m: table[m].abs().idxmin()
        if m in CLOSEST_TO_ZERO
        else table[m].idxmin()
        if m in lower
        else table[m].idxmax()
        for m in table.columns
        if m not in NO_BEST and table[m].notna().any()
    }
    return table, best


def highlight_best(summary: pd.DataFrame, by: str):
    """A pandas Styler of `best_per_metric` with each metric's best configuration in bold."""
    table, best = best_per_metric(summary, by)

    def style(column: pd.Series) -> list[str]:
        winner = best.get(column.name)
        return ["font-weight: bold; background-color: #d9f2d9" if index == winner else ""
                for index in column.index]  # fmt: skip

    return table.style.apply(style, axis=0).format("{:.4f}")


def save(fig: Figure, path: Path, pdf: bool = False) -> list[Path]:
    """Writes `path` (.png) and, with `pdf`, the same figure as .pdf beside it."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    written = [path]
    if pdf:
        fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
        written.append(path.with_suffix(".pdf"))
    return written
