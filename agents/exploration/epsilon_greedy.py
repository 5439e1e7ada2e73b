"""`epsilon_greedy`: each greedy slot is replaced by a random unseen item with probability ε_t.

Sutton & Barto (2018), §2.2, extended to slates. Schedule:
    ε_t = max(ε_min, ε · decay^t)      (decay = 1: constant ε)
Each slot j independently explores with probability ε_t; an exploring slot gets a uniformly
random item not otherwise in the slate (explored slots take distinct random items).
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import Exploration, config_to_params, top_k
from recsim.validation import ConfigError, check_real


@dataclasses.dataclass
class EpsilonGreedyConfig:
    name: str = "epsilon_greedy"
    epsilon: float = 0.1  # ε: exploration probability per slot at t = 0
    decay: float = 1.0  # per-step multiplicative decay of ε (1 = none)
    epsilon_min: float = 0.0  # floor of the decayed ε

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        check_real(f"{prefix}.epsilon", self.epsilon, 0.0, 1.0)
        check_real(f"{prefix}.decay", self.decay, 0.0, 1.0, low_open=True)
        check_real(f"{prefix}.epsilon_min", self.epsilon_min, 0.0, 1.0)
        if self.epsilon_min > self.epsilon:
            raise ConfigError(
                f"{prefix}.epsilon_min={self.epsilon_min} must be <= "
                f"{prefix}.epsilon={self.epsilon}"
            )


@struct.dataclass
class EpsilonGreedyParams:
    epsilon: jax.Array
    decay: jax.Array
    epsilon_min: jax.Array


def epsilon_at(params: EpsilonGreedyParams, step: jax.Array) -> jax.Array:
    """ε_t = max(ε_min, ε · decay^t)."""
    return jnp.maximum(params.epsilon_min, params.epsilon * params.decay ** step.astype(float))


def select(key, scores, item_features, k, params: EpsilonGreedyParams, step):
    slot_key, item_key = jax.random.split(key)
    greedy = top_k(scores.mean, k)  # [U, k]
    explore = jax.random.uniform(slot_key, greedy.shape) < epsilon_at(params, step)
    # Random candidates: every item except the greedy items that stay, in random order.
    users, n_items = scores.mean.shape
    kept = jnp.where(explore, n_items, greedy)  # n_items: out of range, dropped below
    is_kept = (
        jnp.zeros((users, n_items), bool)
        .at[jnp.arange(users)[:, None], kept]
        .set(True, mode="drop")
    )
    noise = jnp.where(is_kept, -1.0, jax.random.uniform(item_key, scores.mean.shape))
    candidates = top_k(noise, k)  # non-kept items first, in uniformly random order
    # The r-th exploring slot takes the r-th candidate: at most k − (kept) ≤ N − (kept)
    # candidates are needed, and those are all non-kept items, so the slate stays distinct.
    rank = jnp.maximum(jnp.cumsum(explore, axis=1) - 1, 0)
    picked = jnp.take_along_axis(candidates, rank, axis=1)
    return jnp.where(explore, picked, greedy), explore


def make(config: EpsilonGreedyConfig):
    config.validate()
    return Exploration("epsilon_greedy", select), config_to_params(config, EpsilonGreedyParams)
