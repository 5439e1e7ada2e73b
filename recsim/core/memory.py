"""What a run holds in device memory, read off its traced and compiled programs.

Two figures, each checked before anything runs (by `loop.compile_run`'s `check_memory`):

- before compiling, the state: every buffer of the carry (env and agent states, replay
  buffers, metric sums; all simulations) and of the params, from their abstract shapes;
  exact, and a lower bound of what the run needs;
- after compiling, XLA's own figure for each program (init, chunk):
  `arguments + outputs − aliased (the donated carry) + temporaries`; the peak the run needs.

Both are per device: when simulations are sharded over several devices, each holds its share.

The largest intermediate arrays of the traced chunk (its jaxpr, walked into every scan, cond
and call) name what makes the temporaries big: their shapes and the source lines that make
them. On CPU they may be fused away by XLA, so they explain a figure, they are not one.
"""

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from jax.extend import core as jex_core


@dataclasses.dataclass(frozen=True)
class Buffer:
    """One array a run holds: `where` is a carry/params path or the source line making it."""

    where: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int

    def describe(self) -> str:
        return f"{self.dtype}{list(self.shape)} ({human_bytes(self.nbytes)}) {self.where}"


@dataclasses.dataclass(frozen=True)
class MemoryNeed:
    """What a run needs: `nbytes` at `stage` (`state` before compiling, `compiled` after),
    with the largest buffers behind it (largest first)."""

    stage: str
    nbytes: int
    buffers: tuple[Buffer, ...]


def human_bytes(nbytes: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def _nbytes(shape: tuple[int, ...], dtype: Any) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def state_buffers(tree: Any, prefix: str) -> list[Buffer]:
    """Every array leaf of `tree` (arrays or `ShapeDtypeStruct`s), largest first."""
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    buffers = [
        Buffer(
            f"{prefix}{jax.tree_util.keystr(path)}",
            tuple(leaf.shape),
            str(leaf.dtype),
            _nbytes(tuple(leaf.shape), leaf.dtype),
        )  # fmt: skip
        for path, leaf in leaves
        if hasattr(leaf, "shape") and not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    ]
    return sorted(buffers, key=lambda b: -b.nbytes)


def _subjaxprs(params: dict[str, Any]) -> Iterator[Any]:
    for value in params.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, jex_core.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jex_core.Jaxpr):
                yield item


def _where(eqn: Any) -> str:
    """`file:line (function)` of the user code that made the equation, else the primitive."""
    try:
        from jax._src import source_info_util  # no public API gives the user frame

        frame = source_info_util.user_frame(eqn.source_info.traceback)
        if frame is not None:
            name = frame.file_name.split("/site-packages/")[-1]
            for root in ("/envs/", "/agents/", "/recsim/"):
                name = root[1:] + name.split(root, 1)[1] if root in name else name
            return f"made at {name}:{frame.start_line} ({frame.function_name})"
    except (ImportError, AttributeError):
        pass
    return f"made by {eqn.primitive.name}"


def largest_intermediates(jaxpr: Any, count: int = 3) -> list[Buffer]:
    """The `count` largest arrays that the equations of `jaxpr` (and of every jaxpr nested in
    them) produce, largest first, one per source line."""
    found: dict[str, Buffer] = {}
    stack = [jaxpr.jaxpr if isinstance(jaxpr, jex_core.ClosedJaxpr) else jaxpr]
    while stack:
        current = stack.pop()
        for eqn in current.eqns:
            stack.extend(_subjaxprs(eqn.params))
            for var in eqn.outvars:
                aval = var.aval
                if not hasattr(aval, "shape") or jax.dtypes.issubdtype(
                    aval.dtype, jax.dtypes.prng_key
                ):
                    continue
                buffer = Buffer(_where(eqn), tuple(aval.shape), str(aval.dtype),
                                _nbytes(tuple(aval.shape), aval.dtype))  # fmt: skip
                if buffer.where not in found or buffer.nbytes > found[buffer.where].nbytes:
                    found[buffer.where] = buffer
    return sorted(found.values(), key=lambda b: -b.nbytes)[:count]


def compiled_bytes(compiled: Any) -> int | None:
    """XLA's peak for a compiled program: arguments + outputs − aliased + temporaries (None
    when the backend gives no memory analysis)."""
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return None
    if stats is None:
        return None
    return int(
        stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        - stats.alias_size_in_bytes
        + stats.temp_size_in_bytes
    )
