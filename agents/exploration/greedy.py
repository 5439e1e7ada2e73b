"""`greedy`: the k items of highest predicted score — no exploration (the control)."""

import dataclasses

import jax.numpy as jnp

from agents.exploration.base import Exploration, NoParams, deterministic, top_k
from recsim.core.types import EnvSpec


@dataclasses.dataclass
class GreedyConfig:
    name: str = "greedy"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def select(key, scores, item_features, k, params, step):
    """slate = argtop-k_i mean_{u,i}."""
    slates = top_k(scores.mean, k)
    return slates, jnp.zeros(slates.shape, bool)


PROPENSITY = deterministic(select)
GREEDY = Exploration(GreedyConfig.name, select, PROPENSITY)
"""The strategy an exploring agent holds until one is composed in (`agents.with_exploration`)."""


def make(config: GreedyConfig, spec: EnvSpec):
    """The strategy (no knobs)."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), NoParams()
