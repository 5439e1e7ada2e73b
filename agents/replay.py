"""A fixed-size replay ring buffer of click examples, held in the agent state.

Every shown slot becomes one example (user features, item id, position, click) plus one
bootstrap weight per ensemble member, w ~ Bernoulli(0.5) (the "double-or-nothing" online
bootstrap of Osband et al., 2016). A step writes its U·k examples as one contiguous block
(`dynamic_update_slice`, no scatter); the capacity is a multiple of U·k, so blocks never wrap.
"""

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Replay:
    user_features: jax.Array  # [C, Fu] float32
    items: jax.Array  # [C] int32
    positions: jax.Array  # [C] int32
    clicks: jax.Array  # [C] float32
    weights: jax.Array  # [C, H] float32 bootstrap weights per member
    size: jax.Array  # [] int32: examples stored (≤ C)
    cursor: jax.Array  # [] int32: where the next block goes


def capacity_for(requested: int, block: int) -> int:
    """The smallest multiple of `block` that holds at least `requested` examples."""
    return max(1, -(-requested // block)) * block


def init(capacity: int, user_dim: int, members: int) -> Replay:
    return Replay(
        user_features=jnp.zeros((capacity, user_dim), jnp.float32),
        items=jnp.zeros((capacity,), jnp.int32),
        positions=jnp.zeros((capacity,), jnp.int32),
        clicks=jnp.zeros((capacity,), jnp.float32),
        weights=jnp.zeros((capacity, members), jnp.float32),
        size=jnp.zeros((), jnp.int32),
        cursor=jnp.zeros((), jnp.int32),
    )


def add(
    key: jax.Array,
    buffer: Replay,
    user_features: jax.Array,  # [U, Fu]
    slates: jax.Array,  # [U, k]
    clicks: jax.Array,  # [U, k]
    bootstrap: bool,
) -> Replay:
    """Appends the U·k examples of one step (oldest overwritten when full)."""
    users, k = slates.shape
    block = users * k
    members = buffer.weights.shape[1]
    if bootstrap:
        weights = jax.random.bernoulli(key, 0.5, (block, members)).astype(jnp.float32)
    else:
        weights = jnp.ones((block, members), jnp.float32)

    def write(store, values):
        start = (buffer.cursor,) + (0,) * (store.ndim - 1)
        return jax.lax.dynamic_update_slice(store, values.astype(store.dtype), start)

    capacity = buffer.items.shape[0]
    return Replay(
        user_features=write(buffer.user_features, jnp.repeat(user_features, k, axis=0)),
        items=write(buffer.items, slates.reshape(-1)),
        positions=write(buffer.positions, jnp.tile(jnp.arange(k), users)),
        clicks=write(buffer.clicks, clicks.reshape(-1)),
        weights=write(buffer.weights, weights),
        size=jnp.minimum(buffer.size + block, capacity),
        cursor=(buffer.cursor + block) % capacity,
    )


def sample(key: jax.Array, buffer: Replay, batch: int) -> Replay:
    """A minibatch of `batch` examples drawn uniformly with replacement from those stored."""
    index = jax.random.randint(key, (batch,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda x: x[index] if x.ndim else x, buffer)


def forget(buffer: Replay, items: jax.Array) -> Replay:
    """Weight 0 for every stored example of the ids marked in `items` [N] bool (they now
    name other items), so training ignores them."""
    stale = items[buffer.items]  # [C]
    return buffer.replace(weights=jnp.where(stale[:, None], 0.0, buffer.weights))
