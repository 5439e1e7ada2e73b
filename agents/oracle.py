"""`oracle`: shows each user the k items of highest true click probability (the regret bound)."""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from recsim.types import ActInfo, EnvSpec, Observation, Truth


@dataclasses.dataclass
class OracleConfig:
    """Config of `agent=oracle` (no knobs)."""

    name: str = "oracle"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@dataclasses.dataclass(frozen=True)
class OracleAgent:
    """Slate = top-k of the true attraction a_{u,i}, best first.

    Under the position-based model with decreasing examination κ_j, this maximises expected
    clicks Σ_j κ_j a_{u, s_j} (rearrangement inequality), so its regret is 0 by definition.
    """

    spec: EnvSpec
    uses_truth: ClassVar[bool] = True
    predicts_clicks: ClassVar[bool] = True

    def init(self, key: jax.Array, params: tuple) -> tuple:
        return ()

    def act(self, key, state, obs: Observation, params, truth: Truth):
        _, slates = jax.lax.top_k(truth.attraction, self.spec.slate_size)
        explored = jnp.zeros(slates.shape, bool)
        zeros = jnp.zeros_like(truth.attraction)
        return slates, ActInfo(scores=truth.attraction, uncertainty=zeros, explored=explored)

    def update(self, key, state, obs, slates, feedback, params):
        return state


def make(config: OracleConfig, spec: EnvSpec, exploration=None) -> tuple[OracleAgent, tuple]:
    config.validate()
    return OracleAgent(spec=spec), ()
