"""New items (cold start): every `item_churn_every` steps a share `item_churn_rate` of the
catalogue retires and fresh items take their ids.

At the end of step t with (t + 1) mod P = 0 (P = `item_churn_every`), n = round(r·N) ids
(r = `item_churn_rate` ∈ [0, 1], traced; 0: off) chosen uniformly without replacement get new
items drawn from the generator's item law (new hidden vector, new quality bias from the same
heavy-tailed law, new features), and their age restarts: age_i = t' − born_i, born_i = t + 1.
Shapes never change. The observation reports every item's age, so an agent can forget what it
learned about a recycled id.
"""

import jax
import jax.numpy as jnp


def retiring(key: jax.Array, n_items: int, rate: jax.Array, due: jax.Array) -> jax.Array:
    """[N] bool: the ids that get a fresh item now (none unless `due`)."""
    rank = jnp.argsort(jax.random.uniform(key, (n_items,)))
    position = jnp.zeros((n_items,), jnp.int32).at[rank].set(jnp.arange(n_items))
    count = jnp.round(rate * n_items).astype(jnp.int32)
    return due & (position < count)


def is_due(clock: jax.Array, period: int) -> jax.Array:
    """Whether the churn happens at the end of step `clock`."""
    return (clock + 1) % period == 0
