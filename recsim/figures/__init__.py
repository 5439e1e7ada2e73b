"""Figures of results (matplotlib, without pyplot).

`curves` draws metrics over steps with confidence bands (a run's curves.png, a sweep's, the
notebooks' family figures); `paper` holds the trade-off, knob, best-per-metric and
paired-difference (forest) views.
"""

from recsim.core.metric_table import FAMILIES, TRADEOFF_X, label
from recsim.figures.bands import curves, legend, palette, save
from recsim.figures.paper import best_per_metric, forest, highlight_best, knob, tradeoff

__all__ = [
    "FAMILIES",
    "TRADEOFF_X",
    "best_per_metric",
    "curves",
    "forest",
    "highlight_best",
    "knob",
    "label",
    "legend",
    "palette",
    "save",
    "tradeoff",
]
