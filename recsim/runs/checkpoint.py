"""Checkpoints of a run in progress (Orbax): the loop's carry after a chunk, and the rows so far.

Layout: `RUN_DIR/checkpoint/<chunks done>/` with two items, `state` (the batched carry and the
rows, as arrays) and `meta` (JSON: `Meta`). Orbax writes a checkpoint under a temporary name
and renames it once every file is written, so a checkpoint is whole or absent: a process
killed while saving leaves only a temporary directory, which is never read. One checkpoint is
kept, the latest; a completed run removes it.

The carry's PRNG keys are stored as their raw data (`jax.random.key_data`, uint32) and wrapped
again with their implementation on restore: Orbax stores plain arrays. The carry is restored
with the shardings of the compiled chunk's input, so a resumed run continues bit for bit.
"""

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np

from recsim.core.loop import Resume

DIR = "checkpoint"


@dataclasses.dataclass(frozen=True)
class Meta:
    """What a checkpoint is of: a run with `config_hash`, after `chunks_done` of `n_chunks`
    chunks (`steps_done` steps)."""

    config_hash: str
    chunks_done: int
    n_chunks: int
    steps_done: int
    key_impl: str  # the PRNG implementation of the carry's keys (e.g. threefry2x32)


def has_checkpoint(run_dir: Path) -> bool:
    """Whether `run_dir` holds a finished checkpoint (cheap: Orbax is not loaded)."""
    directory = Path(run_dir) / DIR
    return directory.is_dir() and any(path.name.isdigit() for path in directory.iterdir())


def _manager(run_dir: Path):
    import orbax.checkpoint as ocp  # loaded only by runs that checkpoint or resume

    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
    handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
    return ocp.CheckpointManager(
        Path(run_dir).resolve() / DIR, options=options, item_handlers=handlers
    )


def latest(run_dir: Path) -> Meta | None:
    """The latest checkpoint's `Meta`, or None when `run_dir` holds none."""
    if not has_checkpoint(run_dir):
        return None
    import orbax.checkpoint as ocp

    manager = _manager(run_dir)
    step = manager.latest_step()
    if step is None:
        return None
    restored = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    return Meta(**restored.meta)


def save(run_dir: Path, meta: Meta, carry: Any, rows: dict[str, np.ndarray]) -> None:
    """Saves (atomically) the batched carry and the rows as checkpoint `meta.chunks_done`,
    replacing the previous one. The carry is copied to the host first, so it may be donated
    as soon as this returns."""
    import orbax.checkpoint as ocp

    state = {"carry": _host_tree(carry), "rows": dict(rows)}
    manager = _manager(run_dir)
    manager.save(
        meta.chunks_done,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(dataclasses.asdict(meta))
        ),
    )
    manager.wait_until_finished()
    manager.close()


def restore(run_dir: Path, carry_info: Any, rows_info: dict[str, Any]) -> tuple[Meta, Resume]:
    """The latest checkpoint, as the loop resumes from it.

    Args:
      run_dir: the run directory.
      carry_info: ShapeDtypeStructs of the batched carry (`CompiledRun.carry_info`): the
        shapes, dtypes and shardings the chunk program takes.
      rows_info: metric -> dtype of the rows.
    """
    import orbax.checkpoint as ocp

    meta = latest(run_dir)
    if meta is None:
        raise FileNotFoundError(f"{Path(run_dir) / DIR}: no checkpoint")
    n_sims = jax.tree.leaves(carry_info)[0].shape[0]
    manager = _manager(run_dir)  # the rows' shapes, [simulations, windows so far], as stored
    stored = manager.item_metadata(meta.chunks_done)["state"]["rows"]
    windows = {name: tuple(info.shape) for name, info in stored.items()}
    target = {
        "carry": jax.tree.map(_stored_struct, carry_info),
        "rows": {
            name: jax.ShapeDtypeStruct(windows[name], np.dtype(dtype))
            for name, dtype in rows_info.items()
        },
    }
    for shape in windows.values():
        if shape[0] != n_sims:
            raise ValueError(f"checkpoint of {shape[0]} simulations; this run has {n_sims}")
    state = manager.restore(
        meta.chunks_done, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))
    ).state
    carry = jax.tree.map(
        lambda data, info: _on_device(data, info, meta.key_impl), state["carry"], carry_info
    )
    rows = {name: np.asarray(values) for name, values in state["rows"].items()}
    return meta, Resume(meta.chunks_done, carry, rows)


def find_resumable(run_dir: Path, config_hash: str) -> Path | None:
    """The run directory to resume a run of `config_hash` in: `run_dir` if it holds a
    checkpoint of that configuration, else the directory beside it (same parent: runs of one
    label) whose checkpoint of that configuration was saved last; None when there is none."""
    run_dir = Path(run_dir)
    siblings = [path for path in run_dir.parent.iterdir() if path != run_dir and path.is_dir()]
    siblings.sort(key=lambda path: _saved_at(path), reverse=True)
    for candidate in [run_dir, *siblings]:
        meta = latest(candidate)
        if meta is not None and meta.config_hash == config_hash:
            return candidate
    return None


def _saved_at(run_dir: Path) -> float:
    """When the latest checkpoint of `run_dir` was written (0 when it has none)."""
    if not has_checkpoint(run_dir):
        return 0.0
    steps = [path for path in (run_dir / DIR).iterdir() if path.name.isdigit()]
    return max(path.stat().st_mtime for path in steps)


def remove(run_dir: Path) -> None:
    """Removes the run's checkpoints (a completed run keeps none)."""
    shutil.rmtree(Path(run_dir) / DIR, ignore_errors=True)


def key_impl(carry: Any) -> str:
    """The PRNG implementation of the carry's keys (all of them use the same)."""
    keys = [leaf for leaf in jax.tree.leaves(carry) if _is_key(leaf)]
    return str(jax.random.key_impl(keys[0])) if keys else ""


def _is_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _host_tree(carry: Any) -> Any:
    """The carry as host arrays, keys as their raw data."""
    return jax.device_get(
        jax.tree.map(lambda leaf: jax.random.key_data(leaf) if _is_key(leaf) else leaf, carry)
    )


def _stored_struct(info: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
    """How a carry leaf is stored: as a host array; a key as its raw data."""
    if _is_key(info):
        data = jax.eval_shape(jax.random.key_data, info)
        return jax.ShapeDtypeStruct(data.shape, data.dtype)
    return jax.ShapeDtypeStruct(info.shape, info.dtype)


def _on_device(data: Any, info: jax.ShapeDtypeStruct, impl: str) -> jax.Array:
    """A restored leaf placed as the chunk program takes it (a key wrapped again)."""
    if _is_key(info):
        data = jax.random.wrap_key_data(np.asarray(data), impl=impl)
    return jax.device_put(data, info.sharding)
