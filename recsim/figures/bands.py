"""Curves over steps with confidence bands across seeds, and the figure helpers every figure
uses (colours, legend, saving).

Figures are `matplotlib.figure.Figure` objects made without pyplot: no global backend or
figure registry is touched, so this works the same in scripts, sweeps and notebooks (in a
notebook, `display(fig)` shows one).
"""

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recsim.core.metric_table import label
from recsim.runs.stats import band_table


def palette(names: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per name: sorted names take the colours of tab10 (then tab20) in order,
    so a strategy has the same colour in every figure of a sweep."""
    ordered = sorted({str(n) for n in names})
    colours = matplotlib.colormaps["tab10" if len(ordered) <= 10 else "tab20"].colors
    return {name: colours[i % len(colours)] for i, name in enumerate(ordered)}


def curves(
    frame: pd.DataFrame,
    by: str | Sequence[str] | None,
    metrics: Sequence[str],
    colours: dict[str, tuple] | None = None,
    title: str = "",
    columns: int = 4,
) -> Figure:
    """Each metric over steps, one line per value of the `by` column(s), mean ± 95% CI across
    seeds; panels in rows of at most `columns`. A metric that is NaN throughout (not
    applicable to the agent) gets a panel saying so."""
    by = [by] if isinstance(by, str) else list(by or [])
    frame = frame.assign(line=_line_names(frame, by))
    colours = colours or palette(frame["line"])
    n_cols = min(len(metrics), columns)
    n_rows = math.ceil(len(metrics) / n_cols)
    legend_width = 1.6 if by else 0.0
    fig = Figure(figsize=(4.6 * n_cols + legend_width, 3.4 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        ax.set_title(label(metric), fontsize="medium")
        ax.set_xlabel("step (users arrive in batches)")
        ax.grid(alpha=0.3)
        if frame[metric].isna().all():
            ax.text(0.5, 0.5, "not applicable", ha="center", va="center", transform=ax.transAxes)
            continue
        for name, line in band_table(frame, metric, ["line"]).groupby("line", sort=True):
            colour = colours.get(name, colours.get(str(name)))
            ax.plot(line["step"], line["mean"], color=colour, label=name or None)
            ax.fill_between(line["step"], line["mean"] - line["ci"], line["mean"] + line["ci"],
                            color=colour, alpha=0.2, linewidth=0)  # fmt: skip
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    n_seeds = frame["seed"].nunique() if "seed" in frame else 0
    fig.suptitle(f"{title}  (mean ± 95% CI over {n_seeds} seeds)".strip())
    if by:
        legend(fig, axes.flat[0], ", ".join(by))
    else:
        fig.tight_layout()
    return fig


def _line_names(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """The line each row belongs to: the `by` values joined ("" without `by`)."""
    if not by:
        return pd.Series("", index=frame.index)
    if len(by) == 1:
        return frame[by[0]].astype(str)
    return (
        frame[by]
        .astype(str)
        .apply(
            lambda values: ", ".join(f"{b}={v}" for b, v in zip(by, values, strict=True)), axis=1
        )
    )


def legend(fig: Figure, ax: Axes, title: str) -> None:
    """One legend for the whole figure, to the right of the panels."""
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1 - 1.7 / fig.get_figwidth(), 1))  # 1.7 in for the legend
    fig.legend(handles, labels, title=title, loc="center right", fontsize="small")


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
