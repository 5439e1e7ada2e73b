"""`popularity`: the k most clicked items so far, for everyone (ties broken at random)."""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from agents import forgetting
from recsim.types import ActInfo, EnvSpec, Observation


@dataclasses.dataclass
class PopularityConfig:
    """Config of `agent=popularity` (no knobs)."""

    name: str = "popularity"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@struct.dataclass
class PopularityState:
    clicks: jax.Array  # [N] int32: clicks on each item so far, from this agent's slates


@dataclasses.dataclass(frozen=True)
class PopularityAgent:
    """Slate = the k items with most clicks c_i so far, in decreasing order of c_i.

    Ties (all items at the start) are broken by a fresh uniform draw per item at every step,
    through an exact two-key sort of the catalogue (counts of any size keep full precision);
    all users of a step see the same slate.
    """

    spec: EnvSpec
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = False

    def init(self, key: jax.Array, params: tuple) -> PopularityState:
        return PopularityState(clicks=jnp.zeros((self.spec.n_items,), jnp.int32))

    def act(self, key, state: PopularityState, obs: Observation, params):
        users, n_items = obs.user_ids.shape[0], self.spec.n_items
        shape = (users, n_items)
        state = self.forget(state, obs)
        tie_break = jax.random.uniform(key, (n_items,))
        items = jnp.arange(n_items, dtype=jnp.int32)
        _, _, order = jax.lax.sort((-state.clicks, tie_break, items), num_keys=2)
        slates = jnp.broadcast_to(order[: self.spec.slate_size], (users, self.spec.slate_size))
        scores = jnp.broadcast_to(state.clicks.astype(jnp.float32), shape)
        info = ActInfo(
            scores=scores, uncertainty=jnp.zeros(shape), explored=jnp.zeros(slates.shape, bool)
        )
        return slates, info

    def forget(self, state: PopularityState, obs: Observation) -> PopularityState:
        """Recycled ids (`agents.forgetting`) restart with no clicks."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        return state.replace(clicks=forgetting.reset_rows(state.clicks, fresh, 0))

    def update(self, key, state: PopularityState, obs, slates, feedback, params):
        state = self.forget(state, obs)
        return state.replace(clicks=state.clicks.at[slates].add(feedback.clicks))


def make(
    config: PopularityConfig, spec: EnvSpec, exploration=None
) -> tuple[PopularityAgent, tuple]:
    config.validate()
    return PopularityAgent(spec=spec), ()
