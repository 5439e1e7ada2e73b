"""`random`: a uniformly random slate of k distinct items for every user (the floor)."""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from recsim.core.types import ActInfo, EnvSpec, Observation


@dataclasses.dataclass
class RandomConfig:
    """Config of `agent=random` (no knobs)."""

    name: str = "random"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


def uniform_slates(key: jax.Array, users: int, n_items: int, k: int) -> jax.Array:
    """[users, k] distinct items per row, every k-subset and order equally likely.

    The top-k of i.i.d. uniform scores is a uniformly random ordered k-subset.
    """
    return jax.lax.top_k(jax.random.uniform(key, (users, n_items)), k)[1]


@dataclasses.dataclass(frozen=True)
class RandomAgent:
    """Ignores everything it sees: slate ~ Uniform(ordered k-subsets of the catalogue)."""

    spec: EnvSpec
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = False

    def init(self, key: jax.Array, params: tuple) -> tuple:
        return ()

    def act(self, key, state, obs: Observation, params):
        users, n_items = obs.user_ids.shape[0], self.spec.n_items
        slates = uniform_slates(key, users, n_items, self.spec.slate_size)
        zeros = jnp.zeros((users, n_items), jnp.float32)
        info = ActInfo(scores=zeros, uncertainty=zeros, explored=jnp.ones(slates.shape, bool))
        return slates, info

    def update(self, key, state, obs, slates, feedback, params):
        return state


def make(config: RandomConfig, spec: EnvSpec, exploration=None) -> tuple[RandomAgent, tuple]:
    config.validate()
    return RandomAgent(spec=spec), ()
