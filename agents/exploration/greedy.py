"""`greedy`: the k items of highest predicted score — no exploration (the control)."""

import dataclasses

import jax.numpy as jnp

from agents.exploration.base import Exploration, NoParams, top_k


@dataclasses.dataclass
class GreedyConfig:
    name: str = "greedy"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def select(key, scores, item_features, k, params, step):
    """slate = argtop-k_i mean_{u,i}."""
    slates = top_k(scores.mean, k)
    return slates, jnp.zeros(slates.shape, bool)


def make(config: GreedyConfig):
    return Exploration("greedy", select), NoParams()
