"""The power of the frequency tests (issue 17: each states its n and the error it detects with
≥ 99 % power): the noncentral χ² for goodness of fit, the normal approximation for a rate."""

import numpy as np
from scipy import stats


def chi_square_power(expected, wrong, n: int, alpha: float) -> float:
    """Power of Pearson's χ² goodness-of-fit test at level `alpha` with n draws when the true
    probabilities are `wrong` instead of `expected`: P(χ²_{df, λ} > c), λ = n Σ (w − e)² / e."""
    expected, wrong = np.asarray(expected, np.float64), np.asarray(wrong, np.float64)
    df = expected.size - 1
    noncentrality = n * np.sum((wrong - expected) ** 2 / expected)
    return float(stats.ncx2.sf(stats.chi2.isf(alpha, df), df, noncentrality))


def one_cell_off(cells: int, factor: float = 1.1) -> tuple[np.ndarray, np.ndarray]:
    """Uniform over `cells`, and the same with cell 0's probability × `factor` (the others
    share the difference): a 10 % error in one uniform probability."""
    expected = np.full(cells, 1.0 / cells)
    wrong = expected.copy()
    wrong[0] *= factor
    wrong[1:] -= (wrong[0] - expected[0]) / (cells - 1)
    return expected, wrong


def z_power(mean_shift, sd, sd_wrong, z_bound):
    """P(|X − μ| ≥ z_bound · sd) when X ~ N(μ + mean_shift, sd_wrong²), elementwise: the power
    of a two-sided z test (normal approximation) against a shift of its mean."""
    bound = z_bound * np.asarray(sd, np.float64)
    return stats.norm.sf((bound - mean_shift) / sd_wrong) + stats.norm.cdf(
        (-bound - mean_shift) / sd_wrong
    )


def rate_power(p, p_wrong, n: int, z_bound: float):
    """`z_power` of a rate p̂ over n Bernoulli draws (a binomial count / n) whose true rate is
    `p_wrong` instead of p, elementwise."""
    p, p_wrong = np.asarray(p, np.float64), np.asarray(p_wrong, np.float64)
    return z_power(
        p_wrong - p, np.sqrt(p * (1 - p) / n), np.sqrt(p_wrong * (1 - p_wrong) / n), z_bound
    )
