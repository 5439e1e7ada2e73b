"""`random`: a uniformly random slate of k distinct items for every user (the floor) — the
`random` exploration strategy (`agents.exploration.uniform`) without a model."""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from agents.exploration import NoParams, Scores, uniform
from recsim.core.types import ActInfo, EnvSpec, Observation


@dataclasses.dataclass
class RandomAgentConfig:
    """Config of `agent=random` (no knobs)."""

    name: str = "random"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@dataclasses.dataclass(frozen=True)
class RandomAgent:
    """Ignores everything it sees: slate ~ Uniform(ordered k-subsets of the catalogue)."""

    spec: EnvSpec
    explores: ClassVar[bool] = False  # it is the strategy itself, with nothing to compose
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = False
    reports_uncertainty: ClassVar[bool] = False

    def init(self, key: jax.Array, params: tuple) -> tuple:
        return ()

    def act(self, key, state, obs: Observation, params):
        zeros = jnp.zeros((obs.user_ids.shape[0], self.spec.n_items), jnp.float32)
        scores = Scores(mean=zeros, std=zeros, sample=zeros)
        slates, explored = uniform.select(
            key, scores, obs.item_features, self.spec.slate_size, NoParams(), obs.step
        )
        propensity = uniform.chain(
            slates, scores, obs.item_features, self.spec.slate_size, NoParams(), obs.step
        )
        slot = jnp.full(slates.shape, 1.0 / self.spec.n_items)  # P(a at j) = 1/N
        return slates, ActInfo(zeros, zeros, explored, propensity, slot)

    def update(self, key, state, obs, slates, feedback, params):
        return state


def make(config: RandomAgentConfig, spec: EnvSpec) -> tuple[RandomAgent, tuple]:
    config.validate()
    return RandomAgent(spec=spec), ()
