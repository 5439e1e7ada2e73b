"""`random`: a uniformly random slate, ignoring the model (pure exploration; the `random`
agent, `agents.random_slate`, is this strategy without a model)."""

import dataclasses

import jax
import jax.numpy as jnp

from agents.exploration.base import Exploration, NoParams, Propensity
from recsim.core.types import EnvSpec


@dataclasses.dataclass
class UniformConfig:
    """Config of `exploration=random` (no knobs)."""

    name: str = "random"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def uniform_slates(key: jax.Array, users: int, n_items: int, k: int) -> jax.Array:
    """[users, k] distinct items per row, every ordered k-subset equally likely: the top-k of
    i.i.d. uniform noise."""
    return jax.lax.top_k(jax.random.uniform(key, (users, n_items)), k)[1]


def select(key, scores, item_features, k, params, step):
    """slate ~ Uniform(ordered k-subsets); every slot explored."""
    slates = uniform_slates(key, *scores.mean.shape, k)
    return slates, jnp.ones(slates.shape, bool)


def chain(slates, scores, item_features, k, params, step):
    """P(s_j | s_<j) = 1 / (N − j + 1) for the j-th of k distinct items (1-based j)."""
    n_items = scores.mean.shape[1]
    return jnp.broadcast_to(1.0 / (n_items - jnp.arange(k)), slates.shape)


def marginals(scores, item_features, k, params, step):
    """P(a at j) = 1 / N."""
    users, n_items = scores.mean.shape
    return jnp.full((users, k, n_items), 1.0 / n_items)


PROPENSITY = Propensity(chain, marginals)


def make(config: UniformConfig, spec: EnvSpec):
    """The strategy (no knobs)."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), NoParams()
