"""World data held once per run: large fixed arrays (a real-data world's ratings model, its
features) that every simulation reads and none changes.

Every other leaf of the params and the carry has the simulation axis S in front (seeds × grid
points), so a 10 MB table in the env params of 256 simulations would be held 256 times. An
environment wraps such arrays in `SharedData` inside its params; the loop then passes them to
`vmap` with `in_axes=None` (unbatched), to the devices replicated, and the grid stacks them
once. Its `digest` (a hash of the data and of how it was made) tells that two grid points
hold the same data, so a grid never stacks two different worlds.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from recsim.core.validation import ConfigError

PyTree = Any


@struct.dataclass
class SharedData:
    """Arrays every simulation reads unbatched (leaves without the simulation axis)."""

    arrays: PyTree
    digest: str = struct.field(pytree_node=False, default="")


def is_shared(node: Any) -> bool:
    return isinstance(node, SharedData)


def map_batched(fn: Callable[[jax.Array], jax.Array], tree: PyTree) -> PyTree:
    """`fn` applied to every leaf of `tree` outside `SharedData` (those are left as they are)."""
    return jax.tree.map(lambda x: x if is_shared(x) else fn(x), tree, is_leaf=is_shared)


def axes(tree: PyTree, axis: int = 0) -> PyTree:
    """The `vmap` in_axes prefix of `tree`: `axis` for every leaf, None for `SharedData`."""
    return jax.tree.map(lambda x: None if is_shared(x) else axis, tree, is_leaf=is_shared)


def stack(trees: list[PyTree]) -> PyTree:
    """Pytrees of identical structure stacked along a new leading axis; their `SharedData`
    kept once (each must hold the same data: equal digests)."""

    def one(*nodes):
        if is_shared(nodes[0]):
            digests = {node.digest for node in nodes}
            if len(digests) > 1:
                raise ConfigError(
                    "the grid's points hold different world data (a grid axis changes the data "
                    "or its fit): an in-graph grid can only sweep traced numbers; sweep it "
                    "with --multirun instead"
                )
            return nodes[0]
        return jnp.stack([jnp.asarray(x) for x in nodes])

    return jax.tree.map(one, *trees, is_leaf=is_shared)


def digests(tree: PyTree) -> list[str]:
    """The digests of the `SharedData` in `tree`, in tree order."""
    return [node.digest for node in jax.tree.leaves(tree, is_leaf=is_shared) if is_shared(node)]


def nbytes(tree: PyTree) -> int:
    """Bytes of the arrays held in `SharedData` anywhere in `tree`."""
    found = [node for node in jax.tree.leaves(tree, is_leaf=is_shared) if is_shared(node)]
    return sum(x.nbytes for node in found for x in jax.tree.leaves(node.arrays))
