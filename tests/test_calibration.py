"""Calibration of the agent's beliefs: `calibration_error`, `uncertainty_coverage` and
`uncertainty_error_corr` by hand, and logged by the loop for a hand-built agent whose errors
and uncertainties are known."""

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest

from recsim.core import loop, metrics
from recsim.core.types import ActInfo, EnvSpec
from tests.conftest import small_env


def test_calibration_error_by_hand():
    predicted = jnp.array([0.05, 0.15, 0.12, 0.95])
    truth = jnp.array([0.0, 0.1, 0.2, 1.0])
    # bins 0, 1, 1, 9: |0.05| + |0.05 − 0.08| + |−0.05| = 0.13, over 4 entries
    assert float(metrics.calibration_error(predicted, truth)) == pytest.approx(0.0325)
    # forecasts are clipped to [0, 1]: −0.2 counts as 0 (bin 0), 1.3 as 1 (bin 9)
    clipped = metrics.calibration_error(jnp.array([-0.2, 1.3]), jnp.array([0.1, 0.8]))
    assert float(clipped) == pytest.approx((0.1 + 0.2) / 2)
    # errors of opposite sign cancel within a bin, not across bins
    same_bin = metrics.calibration_error(jnp.array([0.31, 0.33]), jnp.array([0.35, 0.29]))
    assert float(same_bin) == pytest.approx(0.0, abs=1e-7)
    other_bins = metrics.calibration_error(jnp.array([0.25, 0.35]), jnp.array([0.35, 0.25]))
    assert float(other_bins) == pytest.approx(0.1)
    # B = 10 by default: 0.11 and 0.19 share [0.1, 0.2) (with 9 or 11 bins they would not)
    ten_bins = metrics.calibration_error(jnp.array([0.11, 0.19]), jnp.array([0.16, 0.14]))
    assert float(ten_bins) == pytest.approx(0.0, abs=1e-7)
    # the last bin [0.9, 1] is its own (closed at 1): errors in bins 8 and 9 do not cancel
    top = metrics.calibration_error(jnp.array([0.85, 0.95, 1.0]), jnp.array([0.9, 0.9, 1.0]))
    assert float(top) == pytest.approx((0.05 + 0.05) / 3, rel=1e-5)


def test_interval_coverage_by_hand():
    predicted = jnp.array([0.5, 0.5, 0.5])
    std = jnp.array([0.1, 0.0, 0.05])
    assert float(metrics.interval_coverage(predicted, std, jnp.array([0.65, 0.5, 0.59]))) == 1.0
    outside = metrics.interval_coverage(predicted, std, jnp.array([0.75, 0.5, 0.61]))
    assert float(outside) == pytest.approx(1 / 3)


def test_pearson_by_hand():
    # centred x = [−1, 0, 1], y = [−7/3, −1/3, 8/3]: Σxy = 5, Σx² = 2, Σy² = 38/3
    r = metrics.pearson(jnp.array([1.0, 2.0, 3.0]), jnp.array([2.0, 4.0, 7.0]))
    assert float(r) == pytest.approx(5 / np.sqrt(2 * 38 / 3), rel=1e-6)
    assert float(metrics.pearson(jnp.ones(3), jnp.array([1.0, 2.0, 3.0]))) == 0.0
    # Scale-free, also where Σx²·Σy² < 1, as for the errors and stds of click probabilities
    # that `uncertainty_error_corr` correlates (here 2e-4 · 38/3e-4 ≈ 2.5e-7).
    small = metrics.pearson(jnp.array([1.0, 2.0, 3.0]) / 100, jnp.array([2.0, 4.0, 7.0]) / 100)
    assert float(small) == pytest.approx(5 / np.sqrt(2 * 38 / 3), rel=1e-5)


@dataclasses.dataclass(frozen=True)
class HalfBelievingAgent:
    """Shows the best slates, but believes every attraction is half what it is (p̂ = a/2) and
    is that unsure (σ = s·a): error −a/2, so ECE = mean(a)/2; the truth lies within p̂ ± 2σ
    iff a/2 ≤ 2·s·a, i.e. s ≥ 1/4; corr(σ, |error|) = corr(s·a, a/2) = 1."""

    spec: EnvSpec
    spread: float
    explores: ClassVar[bool] = False
    uses_truth: ClassVar[bool] = True
    predicts_clicks: ClassVar[bool] = True
    reports_uncertainty: ClassVar[bool] = True

    def init(self, key, params):
        return ()

    def act(self, key, state, obs, params, truth):
        slates = truth.best_slates
        info = ActInfo(scores=truth.attraction / 2, uncertainty=self.spread * truth.attraction,
                       explored=jnp.zeros(slates.shape, bool))  # fmt: skip
        return slates, info

    def update(self, key, state, obs, slates, feedback, params):
        return state


@pytest.mark.parametrize("spread, coverage", [(0.3, 1.0), (0.2, 0.0)])
def test_the_loop_logs_the_calibration_of_a_hand_built_agent(spread, coverage):
    env, env_params = small_env()
    agent = HalfBelievingAgent(env.spec, spread)
    sim = loop.Simulation(env, agent, log_every=5, windows_per_chunk=2)
    params = loop.SimParams(env_params, ())
    rows = loop.run(sim, params, 0, [3], 10).rows
    _, transitions = loop.rollout(sim, params, 0, 3, 10)
    attraction = np.asarray(transitions.truth.attraction)  # [steps, U, N]
    last_of_window = attraction[[4, 9]]  # the model metrics are evaluated there
    expected_ece = last_of_window.reshape(2, -1).mean(axis=1) / 2
    np.testing.assert_allclose(rows["calibration_error"][0], expected_ece, rtol=1e-5)
    np.testing.assert_allclose(rows["uncertainty_coverage"][0], coverage)
    np.testing.assert_allclose(rows["uncertainty_error_corr"][0], 1.0, rtol=1e-5)
