"""`random`: a uniformly random slate, ignoring the model (pure exploration)."""

import dataclasses

import jax
import jax.numpy as jnp

from agents.exploration.base import Exploration, NoParams, top_k


@dataclasses.dataclass
class RandomConfig:
    name: str = "random"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def select(key, scores, item_features, k, params, step):
    """slate ~ Uniform(ordered k-subsets): top-k of i.i.d. uniform noise."""
    slates = top_k(jax.random.uniform(key, scores.mean.shape), k)
    return slates, jnp.ones(slates.shape, bool)


def make(config: RandomConfig):
    return Exploration("random", select), NoParams()
