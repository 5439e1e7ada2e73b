"""Pytrees that cross the environment / agent / loop boundary (DESIGN.md §2).

Shapes use U = users arriving per step, N = items in the catalogue, k = slate size,
Fu / Fi = observable user / item feature dimensions, G = user groups.
"""

import dataclasses

import jax
from flax import struct


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static structure of an environment: everything an agent needs to size its state."""

    n_items: int
    slate_size: int
    users_per_step: int
    user_feature_dim: int
    item_feature_dim: int
    n_groups: int


@struct.dataclass
class Observation:
    """What the agent may see at one step."""

    user_ids: jax.Array  # [U] int32, distinct within a step
    user_features: jax.Array  # [U, Fu] float32
    user_groups: jax.Array  # [U] int32 in 0..G-1
    item_features: jax.Array  # [N, Fi] float32
    step: jax.Array | None = None  # [] int32 step index t, set by the loop (same for all sims)


@struct.dataclass
class Feedback:
    """The users' response to the slates they were shown."""

    clicks: jax.Array  # [U, k] int32 in {0, 1}


@struct.dataclass
class Truth:
    """Privileged ground truth: only the metrics and the oracle agent see it.

    The true probability that user u clicks item i shown at position j is
    `examination[j] * attraction[u, i]` (position-based model).
    """

    attraction: jax.Array  # [U, N] float32: click probability at a fully examined position
    examination: jax.Array  # [k] float32: examination probability of each slate position


@struct.dataclass
class ActInfo:
    """What an agent reports about its choice, for the agent metrics."""

    scores: jax.Array  # [U, N] float32: predicted click probability (or ranking score)
    uncertainty: jax.Array  # [U, N] float32: its epistemic uncertainty (0 when it has none)
    explored: jax.Array  # [U, k] bool: slots chosen by exploration rather than greedily
