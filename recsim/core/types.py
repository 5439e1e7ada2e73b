"""Pytrees that cross the environment / agent / loop boundary (DESIGN.md §2).

Shapes use U = users arriving per step, N = items in the catalogue, k = slate size,
Fu / Fi = observable user / item feature dimensions, G = user groups.
"""

import dataclasses
from typing import Any, NamedTuple

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
    n_users: int  # population size M (static: a user who leaves is replaced)
    # Item features may change only at steps t > 0 with t mod P = 0 (P = item_change_every;
    # 0: never). An agent may cache what it computes from them between those steps.
    item_change_every: int = 0


@struct.dataclass
class Observation:
    """What the agent may see at one step."""

    user_ids: jax.Array  # [U] int32, distinct within a step
    user_features: jax.Array  # [U, Fu] float32
    user_groups: jax.Array  # [U] int32 in 0..G-1
    item_features: jax.Array  # [N, Fi] float32
    item_age: jax.Array | None = None  # [N] int32 steps since each item id got its current item
    step: jax.Array | None = None  # [] int32 step index t, set by the loop (same for all sims)


@struct.dataclass
class Feedback:
    """The users' response to the slates they were shown."""

    clicks: jax.Array  # [U, k] int32 in {0, 1}
    left: jax.Array | None = None  # [U] bool: the user left after this visit (None: nobody)


@struct.dataclass
class Truth:
    """Privileged ground truth: only the metrics and the privileged baselines see it.

    The engine knows no click model: the environment's response model fills `best_slates`
    and `best_value` (the myopic optimum of this visit under its own model), and gives the
    expected clicks of any slate through `Env.expected_clicks`.
    """

    attraction: jax.Array  # [U, N] float32: click probability of item i fully examined alone
    best_slates: jax.Array  # [U, k] int32: the slate of most expected clicks for each user
    best_value: jax.Array  # [U] float32: its expected clicks
    population_attraction: jax.Array | None = None  # [N] mean a over all users (if asked)


@struct.dataclass
class ActInfo:
    """What an agent reports about its choice, for the agent metrics."""

    scores: jax.Array  # [U, N] float32: predicted click probability (or ranking score)
    uncertainty: jax.Array  # [U, N] float32: its epistemic uncertainty (0 when it has none)
    explored: jax.Array  # [U, k] bool: slots chosen by exploration rather than greedily
    # [U, k] float32: P(s_j | s_1..s_{j−1}, x) of the shown slate under the agent's policy (its
    # products: prefix and slate propensities, for off-policy evaluation); None when the agent
    # cannot state it (popularity's random tie-breaks; Thompson without an ensemble)
    propensity: jax.Array | None = None
    # [U, k] float32: P(item s_j at position j | x), the per-slot marginal propensity; None
    # where no closed form exists (Boltzmann beyond position 1: `estimate_marginals`)
    slot_propensity: jax.Array | None = None
    # what the exploration strategy chose from (`agents.exploration.Scores` [U, N] each), so
    # that off-policy evaluation can ask any other strategy what it would have shown; None for
    # the baselines, which have no strategy
    policy_scores: Any = None


class Transition(NamedTuple):
    """What happened in one step of one simulation (reduced by `recsim.core.tracking`; kept per step
    only by `recsim.core.loop.rollout`, for inspection)."""

    obs: Observation
    slates: jax.Array  # [U, k]
    feedback: Feedback
    truth: Truth
    info: ActInfo
    expected: jax.Array  # [U, k] expected clicks of the shown slots under the env's model
