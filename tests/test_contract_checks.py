"""`recsim.testing.check_env` / `check_agent` see broken implementations (each check can fail).

The checks themselves run on every registered env configuration, agent and strategy in
`tests/test_registered.py`.
"""

import dataclasses
from typing import Any

import jax.numpy as jnp
import pytest

from recsim.testing import check_agent, check_env
from tests.conftest import simulation, small_env


@dataclasses.dataclass(frozen=True)
class Wrapped:
    """Delegates everything to `inner`; subclasses break one promise."""

    inner: Any

    def __getattr__(self, name):
        return getattr(self.inner, name)


class RepeatsBestItem(Wrapped):
    def truth(self, state, obs, params):
        truth = self.inner.truth(state, obs, params)
        slates = truth.best_slates.at[:, 1].set(truth.best_slates[:, 0])
        return truth.replace(best_slates=slates)


class WorstAsBest(Wrapped):
    """Reports the lowest-attraction items as the best slate, with their true value."""

    def truth(self, state, obs, params):
        truth = self.inner.truth(state, obs, params)
        worst = jnp.argsort(truth.attraction, axis=1)[:, : self.spec.slate_size]
        worst = worst.astype(jnp.int32)
        value = jnp.sum(self.inner.expected_clicks(truth, worst, params), axis=1)
        return truth.replace(best_slates=worst, best_value=value)


class NaNClicks(Wrapped):
    def expected_clicks(self, truth, slates, params):
        expected = self.inner.expected_clicks(truth, slates, params)
        return expected.at[0, 0].set(jnp.nan)


class FloatClicks(Wrapped):
    def step(self, key, state, obs, slates, params):
        state, feedback = self.inner.step(key, state, obs, slates, params)
        return state, feedback.replace(clicks=feedback.clicks.astype(jnp.float32))


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (RepeatsBestItem, "repeats an item"),
        (WorstAsBest, "beats best_value"),
        (NaNClicks, "NaN"),
        (FloatClicks, "dtype"),
    ],
)
def test_check_env_sees_a_broken_env(broken, message):
    env, params = small_env()
    with pytest.raises(AssertionError, match=message):
        check_env(broken(env), params)


class RepeatsSlot(Wrapped):
    def act(self, key, state, obs, params, *truth):
        slates, info = self.inner.act(key, state, obs, params, *truth)
        return slates.at[:, 1].set(slates[:, 0]), info


class ScoresAboveOne(Wrapped):
    def act(self, key, state, obs, params, *truth):
        slates, info = self.inner.act(key, state, obs, params, *truth)
        return slates, info.replace(scores=info.scores + 1.0)


class GrowingState(Wrapped):
    """Its update changes a state leaf's dtype: the next step would be traced again."""

    def update(self, key, state, obs, slates, feedback, params):
        return jax_tree_map_to_float(self.inner.update(key, state, obs, slates, feedback, params))


def jax_tree_map_to_float(tree):
    import jax

    return jax.tree.map(
        lambda x: x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.integer) else x, tree
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (RepeatsSlot, "repeats an item"),
        (ScoresAboveOne, "predicted click probabilities"),
        (GrowingState, "shape or dtype"),
    ],
)
def test_check_agent_sees_a_broken_agent(broken, message):
    sim, params = simulation("popularity" if broken is GrowingState else "oracle")
    with pytest.raises(AssertionError, match=message):
        check_agent(broken(sim.agent), params.agent, sim.env.spec)
