"""Figures: bands stay in a metric's range, colours stay with their names."""

import matplotlib
import numpy as np
import pandas as pd

from recsim import figures


def two_seed_frame(values_by_line: dict[str, tuple[float, float]]) -> pd.DataFrame:
    rows = []
    for line, values in values_by_line.items():
        for seed, value in enumerate(values):
            for step in (1, 2):
                rows.append({"line_name": line, "seed": seed, "step": step, "ctr": value})
    return pd.DataFrame(rows)


def test_bands_are_clipped_to_the_metric_range():
    # Two seeds at 0 and 1: the Student-t half-width (6.35) reaches far outside [0, 1].
    frame = two_seed_frame({"a": (0.0, 1.0)})
    fig = figures.curves(frame, "line_name", ["ctr"])
    band = fig.axes[0].collections[0]
    y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
    assert y.min() == 0.0 and y.max() == 1.0


def test_panels_are_labelled_with_the_metric_label():
    fig = figures.curves(two_seed_frame({"a": (0.2, 0.3)}), "line_name", ["ctr"])
    assert fig.axes[0].get_title() == figures.label("ctr")


def test_a_name_keeps_its_colour_whatever_else_is_in_the_sweep():
    order = ("greedy", "random", "epsilon_greedy", "ucb", "thompson", "oracle")
    few = figures.palette(["ucb", "greedy"], order)
    many = figures.palette(["thompson", "ucb", "oracle", "greedy", "neural/random"], order)
    assert few["greedy"] == many["greedy"] and few["ucb"] == many["ucb"]
    assert many["neural/random"] == figures.palette(["random"], order)["random"]
    assert len(set(many.values())) == len(many)  # distinct within a figure
    # the colour of its place in `order` (tab10 for 6 names): neural/random takes random's
    tab10 = matplotlib.colormaps["tab10"].colors
    assert few == {"greedy": tab10[0], "ucb": tab10[3]}
    assert many == {"greedy": tab10[0], "neural/random": tab10[1], "ucb": tab10[3],
                    "thompson": tab10[4], "oracle": tab10[5]}  # fmt: skip


def test_names_sharing_a_colour_key_get_distinct_colours():
    colours = figures.palette(["neural/ucb", "linucb/ucb", "x"], ("greedy", "ucb"))
    assert len(set(colours.values())) == 3
    # sorted: linucb/ucb takes ucb's colour (1); neural/ucb and x the free ones, 0 and 2, in turn
    tab10 = matplotlib.colormaps["tab10"].colors
    assert colours == {"linucb/ucb": tab10[1], "neural/ucb": tab10[0], "x": tab10[2]}
