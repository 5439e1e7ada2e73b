"""Boredom: repeated exposure to a topic makes its items less attractive to the user.

    a_{u,i} ← a_{u,i} · (1 − β)^{m_{u, t_i}},     m_u ← ρ m_u + n_u / k

with n_{u,t} the number of topic-t items in the slate, β = `boredom_penalty` ∈ [0, 1)
(0: off) and ρ = `boredom_decay` ∈ [0, 1].
"""

import jax
import jax.numpy as jnp


def fatigue(exposure: jax.Array, penalty: jax.Array) -> jax.Array:
    """The factor (1 − β)^m of any shape of topic exposures m."""
    return jnp.exp(exposure * jnp.log1p(-penalty))


def update(exposure: jax.Array, topics: jax.Array, n_topics: int, decay: jax.Array) -> jax.Array:
    """New topic exposure of the visiting users: [U, T] and slate topics [U, k] -> [U, T]."""
    share = jnp.sum(jax.nn.one_hot(topics, n_topics), axis=1) / topics.shape[1]
    return decay * exposure + share
