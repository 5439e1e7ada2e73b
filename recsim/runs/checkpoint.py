"""Checkpoints of a run in progress (Orbax): the loop's carry after a chunk, and the rows so far.

Layout: `RUN_DIR/checkpoint/<chunks done>/` with two items, `state` (the batched carry and the
rows, as arrays) and `meta` (JSON: `Meta`). Orbax writes a checkpoint under a temporary name
and renames it once every file is written; an older checkpoint, or all of them when the run
completes, is first renamed away (`.discarded-…`) and then deleted. So a directory named by a
number is a whole checkpoint at every instant: a process killed while saving or deleting
leaves only temporary or discarded directories, which are never read and are cleared by the
next save. One checkpoint is kept, the latest; a completed run removes it.

The carry's PRNG keys are stored as their raw data (`jax.random.key_data`, uint32) and wrapped
again with their implementation on restore: Orbax stores plain arrays. The carry is restored
with the shardings of the compiled chunk's input. A checkpoint records the setup it was made
under (`setup`: code version, backend, devices, package versions); only under the same setup
does a resumed run continue bit for bit, so `recsim.runs.job` refuses any other.
"""

import dataclasses
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import jax
import numpy as np

from recsim.core.loop import Resume
from recsim.runs import results

DIR = "checkpoint"
DISCARDED = ".discarded-"
METADATA_FILE = "_CHECKPOINT_METADATA"  # Orbax's, written when a checkpoint is finalised


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read."""


@dataclasses.dataclass(frozen=True)
class Meta:
    """What a checkpoint is of: a run with `config_hash`, after `chunks_done` of `n_chunks`
    chunks (`steps_done` steps), made under `setup`."""

    config_hash: str
    chunks_done: int
    n_chunks: int
    steps_done: int
    key_impl: str  # the PRNG implementation of the carry's keys (e.g. threefry2x32)
    setup: dict[str, Any]


def setup() -> dict[str, Any]:
    """What must not change between saving and resuming for the same numbers: the code
    (git SHA), the backend, the devices and the package versions."""
    environment = results.environment_info()
    return {
        "git_sha": results.git_sha(),
        "backend": environment["backend"],
        "devices": environment["devices"],
        "versions": environment["versions"],
    }


def differences(saved: dict[str, Any], current: dict[str, Any]) -> str:
    """The setup keys that differ, as `key: saved → current` ('' when none)."""
    changed = [key for key in sorted(set(saved) | set(current))
               if saved.get(key) != current.get(key)]  # fmt: skip
    return "; ".join(f"{key}: {saved.get(key)} → {current.get(key)}" for key in changed)


def _steps(run_dir: Path) -> list[int]:
    """The finished checkpoints of `run_dir`, newest first."""
    directory = Path(run_dir) / DIR
    if not directory.is_dir():
        return []
    steps = [int(path.name) for path in directory.iterdir()
             if path.name.isdigit() and (path / METADATA_FILE).is_file()]  # fmt: skip
    return sorted(steps, reverse=True)


def has_checkpoint(run_dir: Path) -> bool:
    """Whether `run_dir` holds a finished checkpoint (cheap: Orbax is not loaded)."""
    return bool(_steps(run_dir))


def _manager(run_dir: Path):
    import orbax.checkpoint as ocp  # loaded only by runs that checkpoint or resume

    logging.getLogger("absl").setLevel(logging.ERROR)  # Orbax's notes are not the user's
    options = ocp.CheckpointManagerOptions(
        max_to_keep=None, enable_async_checkpointing=False, create=True
    )  # older checkpoints are discarded here, atomically (module docstring)
    handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
    return ocp.CheckpointManager(
        Path(run_dir).resolve() / DIR, options=options, item_handlers=handlers
    )


def latest(run_dir: Path) -> Meta | None:
    """The latest readable checkpoint's `Meta`, or None when `run_dir` holds none."""
    steps = _steps(run_dir)
    if not steps:
        return None
    import orbax.checkpoint as ocp

    manager = _manager(run_dir)
    for step in steps:
        try:
            restored = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
            return Meta(**restored.meta)
        except Exception:  # noqa: BLE001 — damaged by hand or by the disk: try the one before
            continue
    return None


def save(run_dir: Path, meta: Meta, carry: Any, rows: dict[str, np.ndarray]) -> None:
    """Saves (atomically) the batched carry and the rows as checkpoint `meta.chunks_done`,
    then discards every other checkpoint and any leftover of an interrupted save. The carry
    is copied to the host first, so it may be donated as soon as this returns."""
    import orbax.checkpoint as ocp

    state = {"carry": _host_tree(carry), "rows": dict(rows)}
    manager = _manager(run_dir)
    manager.save(
        meta.chunks_done,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(dataclasses.asdict(meta))
        ),
        force=True,
    )
    manager.wait_until_finished()
    manager.close()
    for path in (Path(run_dir) / DIR).iterdir():
        if path.name != str(meta.chunks_done):
            _discard(path)


def _discard(path: Path) -> None:
    """Renames `path` out of the way (atomic: no half-deleted checkpoint is ever seen), then
    deletes it."""
    if path.name.startswith(DISCARDED):
        shutil.rmtree(path, ignore_errors=True)
        return
    gone = path.with_name(f"{DISCARDED}{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(path, gone)
    except FileNotFoundError:
        return
    shutil.rmtree(gone, ignore_errors=True)


def restore(run_dir: Path, meta: Meta, carry_info: Any, rows_info: dict[str, Any]) -> Resume:
    """Checkpoint `meta` (from `latest`), as the loop resumes from it (`CheckpointError`, one
    line, when it cannot be read).

    Args:
      run_dir: the run directory.
      meta: the checkpoint's `Meta`, as `latest` returned it.
      carry_info: ShapeDtypeStructs of the batched carry (`CompiledRun.carry_info`): the
        shapes, dtypes and shardings the chunk program takes.
      rows_info: metric -> dtype of the rows.
    """
    try:
        return _restore(run_dir, meta, carry_info, rows_info)
    except Exception as error:  # noqa: BLE001 — any damage: one line, and what to do
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(
            f"{Path(run_dir) / DIR / str(meta.chunks_done)}: unreadable ({reason}); delete "
            f"{Path(run_dir) / DIR} to start the run again"
        ) from error


def _restore(run_dir: Path, meta: Meta, carry_info: Any, rows_info: dict[str, Any]) -> Resume:
    import orbax.checkpoint as ocp

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
    return Resume(meta.chunks_done, carry, rows)


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
    steps = _steps(run_dir)
    return (run_dir / DIR / str(steps[0])).stat().st_mtime if steps else 0.0


def remove(run_dir: Path) -> None:
    """Removes the run's checkpoints (a completed run keeps none), atomically."""
    directory = Path(run_dir) / DIR
    if directory.exists():
        _discard(directory)
    for leftover in Path(run_dir).glob(f"{DISCARDED}*"):
        shutil.rmtree(leftover, ignore_errors=True)


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
