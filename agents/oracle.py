"""`oracle`: shows each user the best slate under the env's own response model (regret 0)."""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from recsim.core.types import ActInfo, EnvSpec, Observation, Truth


@dataclasses.dataclass
class OracleConfig:
    """Config of `agent=oracle` (no knobs)."""

    name: str = "oracle"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@dataclasses.dataclass(frozen=True)
class OracleAgent:
    """Slate = `truth.best_slates`, the myopic optimum of each visit under the environment's
    response model (the env derives it per model), so its per-visit regret is exactly 0.
    """

    spec: EnvSpec
    explores: ClassVar[bool] = False
    uses_truth: ClassVar[bool] = True
    predicts_clicks: ClassVar[bool] = True
    reports_uncertainty: ClassVar[bool] = False  # it knows a exactly

    def init(self, key: jax.Array, params: tuple) -> tuple:
        return ()

    def act(self, key, state, obs: Observation, params, truth: Truth):
        slates = truth.best_slates
        explored = jnp.zeros(slates.shape, bool)
        zeros = jnp.zeros_like(truth.attraction)
        certain = jnp.ones(slates.shape, jnp.float32)  # its slate is a function of the truth
        return slates, ActInfo(truth.attraction, zeros, explored, certain, certain)

    def update(self, key, state, obs, slates, feedback, params):
        return state


def make(config: OracleConfig, spec: EnvSpec) -> tuple[OracleAgent, tuple]:
    config.validate()
    return OracleAgent(spec=spec), ()
