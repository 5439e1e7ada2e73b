"""`epsilon_greedy`: each greedy slot is replaced by a random unseen item with probability ε_t.

Sutton & Barto (2018), §2.2, extended to slates. Schedule:
    ε_t = max(ε_min, ε · decay^t)      (decay = 1: constant ε)
Each slot j independently explores with probability ε_t; an exploring slot gets a uniformly
random item outside the greedy slate (explored slots take distinct random items: the r-th
exploring slot takes the r-th of k distinct items drawn uniformly, in order, from the N − k
outside the slate, in O(k²) per user: `distinct_outside`). Only when the catalogue has fewer
than k + (exploring slots) items does an exploring slot fall back to a greedy item no other
slot keeps; such a slot is not counted as explored, so `explore_fraction` counts only slots
that really show a non-greedy item.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import Exploration, Propensity, config_to_params, outside, top_k
from recsim.core.types import EnvSpec
from recsim.core.validation import ConfigError, check_real


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


def distinct_outside(key: jax.Array, greedy: jax.Array, n_items: int) -> jax.Array:
    """[U, k] ids: for each row of `greedy` [U, k], k distinct items outside it, a uniform
    ordered sample without replacement (needs N ≥ 2k). Costs O(U·k²), not O(U·N):

    the j-th draw x_j ~ U{0, …, N − k − j − 1} is the rank of an unpicked position among the
    N − k − j left; stepping it past the earlier picks in ascending order (y ← y + 1{p ≤ y})
    gives a position in 0..N − k − 1, and stepping that past the greedy ids in ascending
    order gives the id of the item at that position among those outside the greedy slate."""
    users, k = greedy.shape
    left = n_items - k - jnp.arange(k)  # [k] positions left at each draw
    ranks = jax.random.randint(key, (users, k), 0, left)  # [U, k]
    positions = []
    for j in range(k):
        y = ranks[:, j]
        earlier = jnp.sort(jnp.stack(positions, axis=1), axis=1) if positions else None
        for i in range(j):
            y = y + (earlier[:, i] <= y)
        positions.append(y)
    ids = jnp.stack(positions, axis=1)  # [U, k] distinct positions
    for g in jnp.sort(greedy, axis=1).T:  # ascending greedy ids, [U] each
        ids = ids + (g[:, None] <= ids)
    return ids


def select(key, scores, item_features, k, params: EpsilonGreedyParams, step):
    slot_key, item_key = jax.random.split(key)
    greedy = top_k(scores.mean, k)  # [U, k]
    explore = jax.random.uniform(slot_key, greedy.shape) < epsilon_at(params, step)
    users, n_items = scores.mean.shape
    rank = jnp.maximum(jnp.cumsum(explore, axis=1) - 1, 0)  # the r-th exploring slot
    if n_items >= 2 * k:  # enough items outside the slate for every slot: no fallback
        candidates = distinct_outside(item_key, greedy, n_items)
        slates = jnp.where(explore, jnp.take_along_axis(candidates, rank, axis=1), greedy)
        return slates, explore
    # Random candidates, in uniformly random order: first every item outside the greedy slate,
    # then the greedy items of the exploring slots (a fallback for tiny catalogues); never the
    # greedy items that stay in their slots.
    rows = jnp.arange(users)[:, None]
    priority = jax.random.uniform(item_key, scores.mean.shape)  # in [0, 1): outside the slate
    priority = priority.at[rows, greedy].set(jnp.where(explore, -1.0, -2.0))
    candidates = top_k(priority, k)
    # The r-th exploring slot takes the r-th candidate: at most k − (kept) ≤ N − (kept)
    # candidates are needed, and those are all non-kept items, so the slate stays distinct.
    picked = jnp.take_along_axis(candidates, rank, axis=1)
    slates = jnp.where(explore, picked, greedy)
    return slates, explore & outside(slates, greedy)


def chain(slates, scores, item_features, k, params: EpsilonGreedyParams, step):
    """P(s_j | s_<j): slot j keeps its greedy item g_j with probability 1 − ε_t; an exploring
    slot takes the next of the outside items in uniformly random order, so the r-th exploring
    slot shows a given unseen outside item with probability ε_t / (N − k − r + 1). Exact when
    N ≥ 2k (no fallback to greedy items: module docstring)."""
    epsilon = epsilon_at(params, step)
    greedy = top_k(scores.mean, k)
    n_items = scores.mean.shape[1]
    kept = slates == greedy
    explored = outside(slates, greedy)
    rank = jnp.cumsum(explored, axis=1)  # r: this slot is the r-th exploring one
    factor = jnp.where(kept, 1.0 - epsilon, 0.0)
    return jnp.where(explored, epsilon / (n_items - k - rank + 1), factor)


def marginals(scores, item_features, k, params: EpsilonGreedyParams, step):
    """P(a at j) = (1 − ε_t)·1{a = g_j} + ε_t·1{a ∉ greedy slate} / (N − k); exact when
    N ≥ 2k."""
    epsilon = epsilon_at(params, step)
    n_items = scores.mean.shape[1]
    greedy = jax.nn.one_hot(top_k(scores.mean, k), n_items)  # [U, k, N]
    outside_items = 1.0 - jnp.sum(greedy, axis=1, keepdims=True)  # [U, 1, N]
    return (1.0 - epsilon) * greedy + epsilon * outside_items / (n_items - k)


PROPENSITY = Propensity(chain, marginals)


def make(config: EpsilonGreedyConfig, spec: EnvSpec):
    """The strategy and its traced params; the config validated for `spec`."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), config_to_params(
        config, EpsilonGreedyParams
    )
