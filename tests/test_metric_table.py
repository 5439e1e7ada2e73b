"""The metric table is the one source of every metric's facts: the README, the result columns,
the figures and the summaries follow it."""

import re
import typing
from pathlib import Path

import pytest

from recsim.core import metric_table, tracking
from recsim.core.metric_table import TABLE

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_metric_table_is_the_generated_one():
    text = README.read_text()
    start = text.index("<!-- generated from recsim/core/metric_table.py")
    end = text.index("<!-- end of the generated metric table -->")
    block = text[start:end].split("\n", 1)[1].strip()
    assert block == metric_table.readme_table(), "run: python -m recsim.core.metric_table"


def test_readme_lists_exactly_the_table_metrics():
    text = README.read_text()
    listed = re.findall(r"^\| [a-z ]+ \| `(\w+)` \| (?:higher|lower|zero|none) \|", text, re.M)
    assert listed == list(metric_table.METRIC_NAMES)


def test_entries_are_well_formed():
    names = [m.name for m in TABLE]
    assert len(names) == len(set(names))
    allowed = set(typing.get_args(metric_table.Better))
    for metric in TABLE:
        assert metric.better in allowed, metric.name
        assert metric.label and metric.definition, metric.name
        assert (metric.per is None) == (metric.step_sum is None) == (metric.final is not None)
        if metric.needs_model:
            assert metric.per == "model_visits", metric.name


def test_a_metric_must_say_how_it_is_formed():
    with pytest.raises(ValueError, match="broken"):
        metric_table.Metric("broken", "accuracy", "x", "higher", definition="x")
    with pytest.raises(ValueError, match="broken"):
        metric_table.Metric(
            "broken", "accuracy", "x", "higher", definition="x", step_sum=lambda s: 0
        )


def test_window_sums_and_rows_follow_the_table():
    window = tracking.init_window(n_groups=2)
    assert set(window.sums) == {m.name for m in metric_table.WINDOW_MEANS}
    for metric in metric_table.WINDOW_MEANS:
        assert str(window.sums[metric.name].dtype) == ("int32" if metric.integer else "float32")


def test_derived_views():
    assert metric_table.MODEL_METRICS == (
        "prediction_mae", "preference_spearman", "greedy_ndcg", "calibration_error",
        "uncertainty_coverage", "uncertainty_error_corr",
    )  # fmt: skip
    assert metric_table.UNCERTAINTY_METRICS == ("uncertainty_coverage", "uncertainty_error_corr")
    assert metric_table.FAMILIES["accuracy"] == ("expected_ctr", "cum_regret")
    assert metric_table.TRADEOFF_X == ("ild", "novelty", "exposure_gini")
    assert set(metric_table.SWEEP_METRICS) <= set(metric_table.METRIC_NAMES)
    for family, names in metric_table.FAMILIES.items():
        assert all(metric_table.BY_NAME[n].family == family for n in names)
    assert metric_table.label("ctr") == "CTR (clicks / impression)"
    assert metric_table.label("seed") == "seed"


def test_every_logged_value_stays_in_its_bounds():
    """A short run with every world mechanism on: each metric within its table bounds."""
    from recsim.core import loop
    from tests.conftest import simulation

    sim, params = simulation(
        "neural", drift_rate=0.05, item_churn_rate=0.2, item_churn_every=5, patience=1.0
    )
    rows = loop.run(sim, params, master_seed=0, seeds=range(2), steps=40).rows
    for metric in TABLE:
        low, high = metric.bounds
        values = rows[metric.name]
        assert values.min() >= low - 1e-6 and values.max() <= high + 1e-6, metric.name
