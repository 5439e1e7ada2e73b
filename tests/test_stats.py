"""Statistics across seeds (`recsim.runs.stats`), by hand: the Student-t interval of a mean,
and the per-step band table the figures draw. Written to kill the mutants mutmut found alive."""

import warnings

import numpy as np
import pandas as pd
import pytest

from recsim.runs.stats import band_table, mean_and_ci


def test_mean_and_ci_hand_computed():
    mean, half, n = mean_and_ci([1.0, 2.0, 6.0])
    # mean 3, s = sqrt(((−2)² + (−1)² + 3²) / 2) = sqrt(7), t(0.975, 2) = 4.302652729911275
    assert (mean, n) == (3.0, 3)
    assert half == pytest.approx(4.302652729911275 * np.sqrt(7) / np.sqrt(3), rel=1e-9)
    # level 0.9: t(0.95, 2) = 2.919985580355516
    assert mean_and_ci([1.0, 2.0, 6.0], level=0.9)[1] == pytest.approx(
        2.919985580355516 * np.sqrt(7) / np.sqrt(3), rel=1e-9
    )


def test_one_value_has_no_interval_and_none_has_no_mean_or_warning():
    assert mean_and_ci([0.25]) == (0.25, 0.0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" RuntimeWarning
        mean, half, n = mean_and_ci([])
    assert np.isnan(mean) and (half, n) == (0.0, 0)


def test_float32_values_are_averaged_in_float64():
    # In float32, 2**24 + 1 == 2**24: a float32 mean of these would be (2**24) / 3.
    values = np.array([2**24, 1, 1], np.float32)
    assert mean_and_ci(values)[0] == (2**24 + 2) / 3


def test_band_table_by_hand_and_in_step_order_whatever_the_row_order():
    frame = pd.DataFrame({
        "line": ["a", "a", "a", "a", "b", "b"],
        "seed": [0, 1, 0, 1, 0, 1],
        "step": [20, 20, 10, 10, 10, 10],
        "ctr": [0.5, 0.7, 0.1, 0.3, 1.0, 1.0],
    }).sample(frac=1.0, random_state=3)  # fmt: skip
    table = band_table(frame, "ctr", ["line"])
    assert list(zip(table["line"], table["step"], strict=True)) == [
        ("a", 10), ("a", 20), ("b", 10)
    ]  # fmt: skip
    np.testing.assert_allclose(table["mean"], [0.2, 0.6, 1.0])
    # two seeds differing by 0.2: s = 0.2 / sqrt(2), t(0.975, 1) = 12.706204736174698
    half = 12.706204736174698 * (0.2 / np.sqrt(2)) / np.sqrt(2)
    np.testing.assert_allclose(table["ci"], [half, half, 0.0], rtol=1e-9, atol=1e-12)
