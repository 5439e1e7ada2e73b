"""`pbm`: the position-based click model (Craswell et al., 2008, "An experimental comparison
of click position-bias models").

The user examines position j with probability κ_j = 1 / log2(j + 2), independently of the
other slots, and clicks an examined item with its attraction:

    P(click at j) = κ_j · a_{s_j}            (any number of clicks per slate)

Best slate: the expected clicks Σ_j κ_j a_{s_j} pair decreasing κ with the attractions, so by
the rearrangement inequality the optimum is the top-k items sorted by decreasing a.
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from envs.response.base import best_top_k
from recsim.core.types import EnvSpec


def examination(slate_size: int) -> jax.Array:
    """Position-based examination `κ_j = 1 / log2(j + 2)`, j = 0..k-1. Shape [k]."""
    return 1.0 / jnp.log2(jnp.arange(slate_size, dtype=jnp.float32) + 2.0)


@dataclasses.dataclass(frozen=True)
class PositionBased:
    """Independent examination κ_j of each position (module docstring)."""

    name: ClassVar[str] = "pbm"

    def click_probs(self, shown: jax.Array, params) -> jax.Array:
        return examination(shown.shape[-1]) * shown

    def sample(self, key: jax.Array, shown: jax.Array, params) -> jax.Array:
        prob = self.click_probs(shown, params)
        return (jax.random.uniform(key, prob.shape) < prob).astype(jnp.int32)

    def best(self, attraction: jax.Array, k: int, params) -> tuple[jax.Array, jax.Array]:
        return best_top_k(self, attraction, k, params)


def make(config, spec: EnvSpec) -> tuple[PositionBased, tuple]:
    """The model and its params (none) for the env config `config`."""
    return PositionBased(), ()
