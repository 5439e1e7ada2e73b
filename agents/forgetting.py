"""Forgetting recycled item ids (the item-churn dynamics of `envs.dynamics.item_churn`).

When an item retires, a fresh item takes its id; the observation then reports the id's age 0.
What an agent learned per id (a bias, a posterior, a click count, replay examples) belongs to
the old item, so every agent resets it on the first step the fresh item is visible — in `act`
for that step's decision (transiently) and in `update` for good.
"""

import jax
import jax.numpy as jnp

from recsim.core.types import Observation


def fresh_items(obs: Observation, n_items: int) -> jax.Array:
    """[N] bool: ids whose item arrived since the last step, replacing another (none if the
    env reports no ages or the step is not set; none at step 0, where every item is new but
    nothing was learned yet)."""
    if obs is None or obs.item_age is None or obs.step is None:
        return jnp.zeros((n_items,), bool)
    return (obs.item_age == 0) & (obs.step > 0)


def reset_rows(values: jax.Array, fresh: jax.Array, initial, axis: int = 0) -> jax.Array:
    """`values` with the entries of fresh ids along `axis` set to `initial` (broadcast)."""
    shape = [1] * values.ndim
    shape[axis] = fresh.shape[0]
    return jnp.where(fresh.reshape(shape), initial, values)


def reset_named_leaves(tree, name: str, fresh: jax.Array, initial=0.0, within: str = ""):
    """Sets the fresh ids (last axis) of every leaf whose path contains `name` (and `within`,
    when given) to `initial` (broadcast): e.g. a per-item bias in Flax params, or its first
    moment in an optimizer state, which mirrors the params' paths."""

    def reset(path, leaf):
        parts = [str(part) for part in path]
        if any(name in part for part in parts) and (not within or within in parts):
            return reset_rows(leaf, fresh, initial, axis=leaf.ndim - 1)
        return leaf

    return jax.tree_util.tree_map_with_path(reset, tree)
