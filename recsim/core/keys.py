"""Random streams with common random numbers (DESIGN.md §2).

A simulation is identified by its seed number s, never by its position in a batch:
`sim = fold_in(key(master_seed), s)`. From it, five independent streams are derived, and each
step t uses `fold_in(stream, t)`. So for the same seed every agent and every grid point faces
the same hidden world, the same arriving users in the same order and the same click noise,
however the run is chunked or batched.
"""

from typing import NamedTuple

import jax

WORLD, USERS, CLICKS, AGENT, AGENT_INIT = range(5)


class SimKeys(NamedTuple):
    """The five streams of one simulation."""

    world: jax.Array  # samples the hidden world at init
    users: jax.Array  # who arrives at each step
    clicks: jax.Array  # the uniforms that decide clicks (shared across agents)
    agent: jax.Array  # the agent's randomness per step (exploration, minibatches)
    agent_init: jax.Array  # the agent's initial state (e.g. network weights)


def simulation_keys(master: jax.Array, seed: jax.Array) -> SimKeys:
    """Streams of simulation `seed` under the typed master key `master`."""
    sim = jax.random.fold_in(master, seed)
    return SimKeys(
        *(jax.random.fold_in(sim, stream) for stream in (WORLD, USERS, CLICKS, AGENT, AGENT_INIT))
    )


def at_step(stream: jax.Array, step: jax.Array) -> jax.Array:
    """The key of `stream` at step `step`."""
    return jax.random.fold_in(stream, step)
