"""`dcm`: the dependent click model (Guo, Liu & Wang, 2009, "Efficient multiple-click models
in web search"); with continuation λ = 0 it is the cascade model (`cascade`).

The user scans the slate top-down. An examined item is clicked with its attraction a; after a
click the user goes on to the next slot with probability λ (a traced knob, the same for every
position), after no click always. So, with E_j the probability that slot j is examined,

    E_0 = 1,   E_{j+1} = E_j (1 − (1 − λ) a_{s_j}),   P(click at j) = E_j a_{s_j}.

Expected clicks telescope: with c = 1 − λ > 0,  Σ_j P(click at j) = (1 − Π_j (1 − c a_{s_j})) / c
(and Σ_j a_{s_j} when λ = 1). This depends on the set of shown items only, not on their
order, and increases in every a_{s_j}: the best slate is the k most attractive items (shown
best first by convention; every order of them is optimal).

Clicks use two shared uniforms per slot: one decides the click, one the continuation.
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.response.base import best_top_k
from recsim.core.types import EnvSpec


@struct.dataclass
class DCMParams:
    continuation: jax.Array  # [] λ ∈ [0, 1]: probability of scanning on after a click


def examined(shown: jax.Array, continuation: jax.Array) -> jax.Array:
    """E_j of the docstring: exclusive cumulative product over slots, [U, k] -> [U, k]."""
    stay = 1.0 - (1.0 - continuation) * shown
    ones = jnp.ones_like(shown[..., :1])
    return jnp.cumprod(jnp.concatenate([ones, stay[..., :-1]], axis=-1), axis=-1)


def sample_scan(key: jax.Array, shown: jax.Array, continuation: jax.Array) -> jax.Array:
    """Clicks of one top-down scan per user: [U, k] -> [U, k] int32."""
    click_key, continue_key = jax.random.split(key)
    clicked = jax.random.uniform(click_key, shown.shape) < shown
    goes_on = jax.random.uniform(continue_key, shown.shape) < continuation
    # Slot j is examined iff every earlier slot was either not clicked or continued from.
    passes = jnp.logical_or(~clicked, goes_on)
    ones = jnp.ones_like(passes[..., :1])
    reached = jnp.cumprod(jnp.concatenate([ones, passes[..., :-1]], axis=-1), axis=-1)
    return (clicked & reached.astype(bool)).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class DependentClick:
    """Top-down scan, continuation λ after a click (module docstring)."""

    name: ClassVar[str] = "dcm"

    def click_probs(self, shown: jax.Array, params: DCMParams) -> jax.Array:
        return examined(shown, params.continuation) * shown

    def sample(self, key: jax.Array, shown: jax.Array, params: DCMParams) -> jax.Array:
        return sample_scan(key, shown, params.continuation)

    def best(self, attraction: jax.Array, k: int, params: DCMParams):
        return best_top_k(self, attraction, k, params)


def make(config, spec: EnvSpec) -> tuple[DependentClick, DCMParams]:
    """The model and its params, λ = `config.continuation` (the env config's)."""
    return DependentClick(), DCMParams(continuation=jnp.asarray(config.continuation, jnp.float32))
