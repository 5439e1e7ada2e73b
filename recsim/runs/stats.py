"""Statistics across seeds: means with Student-t confidence intervals, per step or per run."""

import math

import numpy as np
import pandas as pd
from scipy import stats


def mean_and_ci(values: pd.Series | np.ndarray, level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the Student-t confidence interval, and n (half-width 0 for n < 2).

    `half-width = t_{(1+level)/2, n−1} · s / √n`, s the sample standard deviation (ddof 1).
    """
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
