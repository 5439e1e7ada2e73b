"""`popularity`: the items of highest estimated click rate, for everyone; `popularity_clicks`:
the items of most clicks on its own slates (the old, self-reinforcing baseline).

`popularity` estimates each item's population click rate at the top slot, â_i ≈ ā_i, from
its own log under a position-based examination model (Richardson, Dominowska & Ragno, 2007;
clicks over expected clicks, Zhang & Jones, 2007): a click on item i at slot j has probability
κ_j a_i, with κ_0 = 1 (the top slot is always examined, as under pbm, cascade and dcm). With
c_i clicks on item i and n_ij impressions of it at slot j,

    â_i = (c_i + s μ) / (Σ_j κ̂_j n_ij + s),

the posterior mean of a Beta(sμ, s(1−μ)) prior (mean μ, s pseudo-impressions) given clicks
out of examined impressions. The default μ = 0 ranks an unseen item last, so only the cold
rule below shows it, never an optimistic guess in a top slot.

Cold items. After t updates, item i is cold while n_i = Σ_j n_ij < m ln(1 + t). While any
item is cold, the slate is the k − 1 warm items of highest â, best first (cold ones by â if
fewer are warm), with the coldest other item (fewest impressions, ties at random) inserted at
the exploration slot J_t = t mod k; otherwise it is the top k by â. The explored slot cycles
through the slate, independently of which item fills it, so the explored impressions are a
balanced experiment on position: with e_j clicks on x_j explored impressions at slot j,
E e_j = κ_j Ā x_j for every j (Ā: the mean appeal of the explored items), and

    κ̂_j = ρ_j / ρ_0,   ρ_j = (e_j + 1) / (x_j + 1)    (one pseudo-click per slot: κ̂ = 1
                                                        before any exploration)

is consistent. Without it, an item's rate would be its usual slot's examination times its
appeal, and the items already on top would stay there (the slate alone does not identify κ).
Every item's impressions grow without bound (forced exploration, Lattimore & Szepesvári,
2020, §6), so every â_i converges to its item's population rate and the ranking to the true
one, while at most N (1 + m ln(1 + t) / U) of t steps explore, one slot each (without item
churn): the explored share vanishes. Under cascade, dcm and mnl a slot's examination depends
on the items above it, so κ̂ is an average examination and â an approximation.
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from agents import forgetting
from recsim.core.types import ActInfo, EnvSpec, Observation
from recsim.core.validation import check_real


@dataclasses.dataclass
class PopularityConfig:
    """Config of `agent=popularity` (floats are traced knobs)."""

    name: str = "popularity"
    prior_mean: float = 0.0  # μ ∈ [0, 1]: â of an item never shown
    prior_strength: float = 1.0  # s > 0: pseudo-impressions of the prior
    cold_impressions: float = 8.0  # m ≥ 0: cold while n_i < m ln(1 + t) (0: never explore)

    def validate(self, prefix: str = "agent") -> None:
        """Raises `ConfigError` naming the first out-of-range key."""
        check_real(f"{prefix}.prior_mean", self.prior_mean, 0.0, 1.0)
        check_real(f"{prefix}.prior_strength", self.prior_strength, 0.0, low_open=True)
        check_real(f"{prefix}.cold_impressions", self.cold_impressions, 0.0)


@struct.dataclass
class PopularityParams:
    prior_mean: jax.Array  # [] μ
    prior_strength: jax.Array  # [] s
    cold_impressions: jax.Array  # [] m


@struct.dataclass
class PopularityState:
    clicks: jax.Array  # [N] int32 c_i: clicks on item i
    impressions: jax.Array  # [N, k] int32 n_ij: impressions of item i at slot j
    explored_clicks: jax.Array  # [k] int32 e_j: clicks on explored impressions at slot j
    explored_impressions: jax.Array  # [k] int32 x_j: explored impressions at slot j
    step: jax.Array  # [] int32 t: updates so far


def examination(state: PopularityState) -> jax.Array:
    """[k] κ̂_j = ρ_j / ρ_0, ρ_j = (e_j + 1) / (x_j + 1)."""
    rho = (state.explored_clicks + 1.0) / (state.explored_impressions + 1.0)
    return rho / rho[0]


def click_rates(state: PopularityState, params: PopularityParams) -> jax.Array:
    """[N] â_i = (c_i + s μ) / (Σ_j κ̂_j n_ij + s)."""
    examined = state.impressions.astype(jnp.float32) @ examination(state)
    strength = params.prior_strength
    return (state.clicks + strength * params.prior_mean) / (examined + strength)


def cold_items(state: PopularityState, params: PopularityParams) -> jax.Array:
    """[N] bool: n_i < m ln(1 + t)."""
    threshold = params.cold_impressions * jnp.log1p(state.step.astype(jnp.float32))
    return jnp.sum(state.impressions, axis=1) < threshold


def clear(values: jax.Array, fresh: jax.Array) -> jax.Array:
    """Recycled ids (`agents.forgetting`) restart with nothing (rows of `values`)."""
    return forgetting.reset_rows(values, fresh, 0)


@dataclasses.dataclass(frozen=True)
class PopularityAgent:
    """Slate = the top k by â_i, or, while some item is cold, the k − 1 best warm items with
    the coldest item inserted at slot t mod k (module docstring). All users of a step see the
    same slate; ties are broken by a fresh uniform draw per item at every step, through exact
    multi-key sorts."""

    spec: EnvSpec
    explores: ClassVar[bool] = False
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = False  # â is one rate for everyone, not the user's
    reports_uncertainty: ClassVar[bool] = False

    def init(self, key: jax.Array, params: PopularityParams) -> PopularityState:
        n, k = self.spec.n_items, self.spec.slate_size
        return PopularityState(
            clicks=jnp.zeros((n,), jnp.int32),
            impressions=jnp.zeros((n, k), jnp.int32),
            explored_clicks=jnp.zeros((k,), jnp.int32),
            explored_impressions=jnp.zeros((k,), jnp.int32),
            step=jnp.zeros((), jnp.int32),
        )

    def act(self, key, state: PopularityState, obs: Observation, params: PopularityParams):
        users, n, k = obs.user_ids.shape[0], self.spec.n_items, self.spec.slate_size
        state = self.forget(state, obs)
        rates = click_rates(state, params)
        cold = cold_items(state, params)
        tie_break = jax.random.uniform(key, (n,))
        items = jnp.arange(n, dtype=jnp.int32)
        # Warm items best first, then cold ones; then the coldest item not among the k − 1 first
        # (always a cold one while any item is cold, as N ≥ k).
        _, _, _, order = jax.lax.sort((cold, -rates, tie_break, items), num_keys=3)
        outside = cold & ~jnp.zeros((n,), bool).at[order[: k - 1]].set(True)
        shown = jnp.where(outside, jnp.sum(state.impressions, axis=1), jnp.iinfo(jnp.int32).max)
        _, _, coldest = jax.lax.sort((shown, tie_break, items), num_keys=2)
        slot = state.step % k
        explore = jnp.any(cold)
        slots = jnp.arange(k)
        inserted = order[jnp.where(slots < slot, slots, slots - 1)]  # head[:J], ·, head[J:]
        inserted = jnp.where(slots == slot, coldest[0], inserted)
        slate = jnp.where(explore, inserted, order[:k])
        slates = jnp.broadcast_to(slate, (users, k))
        explored = jnp.broadcast_to((slots == slot) & explore, (users, k))
        scores = jnp.broadcast_to(rates, (users, n))
        info = ActInfo(scores=scores, uncertainty=jnp.zeros((users, n)), explored=explored)
        return slates, info

    def forget(self, state: PopularityState, obs: Observation) -> PopularityState:
        """Recycled ids restart with no clicks and no impressions (so they are cold)."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        return state.replace(
            clicks=clear(state.clicks, fresh), impressions=clear(state.impressions, fresh)
        )

    def update(self, key, state: PopularityState, obs, slates, feedback, params):
        state = self.forget(state, obs)
        k = slates.shape[1]
        clicks = feedback.clicks.astype(jnp.int32)  # [U, k]
        explored = (jnp.arange(k) == state.step % k) & jnp.any(cold_items(state, params))
        return state.replace(
            clicks=state.clicks.at[slates].add(clicks),
            impressions=state.impressions.at[slates, jnp.arange(k)].add(1),
            explored_clicks=state.explored_clicks + jnp.sum(clicks, axis=0) * explored,
            explored_impressions=state.explored_impressions + slates.shape[0] * explored,
            step=state.step + 1,
        )


def make(config: PopularityConfig, spec: EnvSpec) -> tuple[PopularityAgent, PopularityParams]:
    config.validate()
    params = PopularityParams(
        prior_mean=jnp.asarray(config.prior_mean, jnp.float32),
        prior_strength=jnp.asarray(config.prior_strength, jnp.float32),
        cold_impressions=jnp.asarray(config.cold_impressions, jnp.float32),
    )
    return PopularityAgent(spec=spec), params


@dataclasses.dataclass
class PopularityClicksConfig:
    """Config of `agent=popularity_clicks` (no knobs)."""

    name: str = "popularity_clicks"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@struct.dataclass
class PopularityClicksState:
    clicks: jax.Array  # [N] int32: clicks on each item so far, from this agent's slates


@dataclasses.dataclass(frozen=True)
class PopularityClicksAgent:
    """Slate = the k items with most clicks c_i so far, in decreasing order of c_i.

    Counts only clicks on its own slates, so it locks onto the first items clicked (kept as
    the naive reference). Ties (all items at the start) are broken by a fresh uniform draw per
    item at every step, through an exact two-key sort of the catalogue (counts of any size
    keep full precision); all users of a step see the same slate.
    """

    spec: EnvSpec
    explores: ClassVar[bool] = False
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = False
    reports_uncertainty: ClassVar[bool] = False

    def init(self, key: jax.Array, params: tuple) -> PopularityClicksState:
        return PopularityClicksState(clicks=jnp.zeros((self.spec.n_items,), jnp.int32))

    def act(self, key, state: PopularityClicksState, obs: Observation, params):
        users, n_items = obs.user_ids.shape[0], self.spec.n_items
        shape = (users, n_items)
        state = self.forget(state, obs)
        tie_break = jax.random.uniform(key, (n_items,))
        items = jnp.arange(n_items, dtype=jnp.int32)
        _, _, order = jax.lax.sort((-state.clicks, tie_break, items), num_keys=2)
        slates = jnp.broadcast_to(order[: self.spec.slate_size], (users, self.spec.slate_size))
        scores = jnp.broadcast_to(state.clicks.astype(jnp.float32), shape)
        info = ActInfo(
            scores=scores, uncertainty=jnp.zeros(shape), explored=jnp.zeros(slates.shape, bool)
        )
        return slates, info

    def forget(self, state: PopularityClicksState, obs: Observation) -> PopularityClicksState:
        """Recycled ids (`agents.forgetting`) restart with no clicks."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        return state.replace(clicks=clear(state.clicks, fresh))

    def update(self, key, state: PopularityClicksState, obs, slates, feedback, params):
        state = self.forget(state, obs)
        return state.replace(clicks=state.clicks.at[slates].add(feedback.clicks))


def make_clicks(
    config: PopularityClicksConfig, spec: EnvSpec
) -> tuple[PopularityClicksAgent, tuple]:
    config.validate()
    return PopularityClicksAgent(spec=spec), ()
