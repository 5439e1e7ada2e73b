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
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recsim.core.metric_table import BY_NAME, label
from recsim.runs.stats import band_table


def palette(names: Sequence[str], order: Sequence[str] = ()) -> dict[str, tuple]:
    """A fixed colour per name.

    With `order` (e.g. every registered strategy and baseline name), a name takes the colour
    of its place in `order` — of its last `/` part, so `neural/ucb` is coloured as `ucb` —
    and keeps it in every figure of every sweep; a name whose colour is taken, or that is not
    in `order`, takes the next free colour, in sorted order. Without `order`, sorted names take
    the colours in turn. tab10 up to 10 colours, tab20 beyond.
    """
    ordered = sorted({str(n) for n in names})
    order = list(order)
    size = max(len(order), len(ordered))
    colours = list(matplotlib.colormaps["tab10" if size <= 10 else "tab20"].colors)
    chosen, used = {}, set()
    for name in ordered:
        key = name.rsplit("/", 1)[-1]
        if key in order and order.index(key) % len(colours) not in used:
            chosen[name] = order.index(key) % len(colours)
            used.add(chosen[name])
    free = [i for i in range(len(colours)) if i not in used] or list(range(len(colours)))
    for i, name in enumerate(n for n in ordered if n not in chosen):
        chosen[name] = free[i % len(free)]
    return {name: colours[index] for name, index in chosen.items()}


def curves(
    frame: pd.DataFrame,
    by: str | Sequence[str] | None,
    metrics: Sequence[str],
    colours: dict[str, tuple] | None = None,
    title: str = "",
    columns: int = 4,
) -> Figure:
    """Each metric over steps, one line per value of the `by` column(s), mean ± 95% CI across
    seeds (the band clipped to the values the metric can take); panels in rows of at most
    `columns`. A metric that is NaN throughout (not applicable to the agent) gets a panel
    saying so."""
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
        if metric not in frame.columns:  # a sweep run before the metric existed
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
            continue
        if frame[metric].isna().all():
            ax.text(0.5, 0.5, "not applicable", ha="center", va="center", transform=ax.transAxes)
            continue
        low, high = bounds(metric)
        for name, line in band_table(frame, metric, ["line"]).groupby("line", sort=True):
            colour = colours.get(name, colours.get(str(name)))
            ax.plot(line["step"], line["mean"], color=colour, label=name or None)
            lower = np.maximum(line["mean"] - line["ci"], low)  # a band stays in the range
            upper = np.minimum(line["mean"] + line["ci"], high)
            ax.fill_between(line["step"], lower, upper, color=colour, alpha=0.2, linewidth=0)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    n_seeds = frame["seed"].nunique() if "seed" in frame else 0
    fig.suptitle(f"{title}  (mean ± 95% CI over {n_seeds} seeds)".strip())
    panel_grid(fig, right=LEGEND_INCHES if by else 0.0)
    if by:
        _figure_legend(fig, axes.flat[0], ", ".join(by))
    return fig


LEGEND_INCHES = 1.7
"""Width kept right of the panels for a figure legend."""


def panel_grid(fig: Figure, right: float = 0.0) -> None:
    """Places a figure's grid of panels at fixed margins in inches (room for tick labels,
    axis labels and panel titles; `right` inches for a legend; 0.75 in for the title): what
    `tight_layout` finds for these panels, without measuring every text of every panel
    first, which costs seconds per figure of twenty panels."""
    width, height = fig.get_size_inches()
    rows, cols = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    left, bottom, gap_x, gap_y = 0.75, 0.55, 0.8, 0.9
    top = (0.75 if fig.get_suptitle() else 0.0) + 0.4  # the title, then a panel's title
    panel_w = (width - left - right - 0.15 - gap_x * (cols - 1)) / cols
    panel_h = (height - bottom - top - gap_y * (rows - 1)) / rows
    fig.subplots_adjust(
        left=left / width,
        right=1 - (right + 0.15) / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=gap_x / panel_w,
        hspace=gap_y / panel_h,
    )


def bounds(metric: str) -> tuple[float, float]:
    """The values a metric column can take (unbounded for other columns)."""
    return BY_NAME[metric].bounds if metric in BY_NAME else (-np.inf, np.inf)


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
    """One legend for the whole figure, to the right of the panels (laid out by
    `tight_layout`: for figures of a few panels)."""
    right = 1 - LEGEND_INCHES / fig.get_figwidth()
    fig.tight_layout(rect=(0, 0, right, _below_title(fig)))
    _figure_legend(fig, ax, title)


def _figure_legend(fig: Figure, ax: Axes, title: str) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, title=title, loc="center right", fontsize="small")


def _below_title(fig: Figure) -> float:
    """The top of the panels: 0.45 in below the figure's top when it has a title."""
    return 1 - 0.45 / fig.get_figheight() if fig.get_suptitle() else 1.0


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
