"""Refusing a run that cannot fit the device, in one line naming the keys that size it.

`checker(experiment)` is given to `loop.run` as `check_memory`: it compares what the run will
hold (`recsim.core.memory`: the state before compiling, XLA's peak after) with the memory of
the device, and raises `NotEnoughMemory` before anything runs. `from_runtime_error` turns an
out-of-memory error that still happens while running (XLA's figure is the peak of one
program; the allocator may fragment) into the same one line.
"""

import os
from collections.abc import Callable
from typing import Any

import jax

from recsim.core.memory import Buffer, MemoryNeed, human_bytes

STAGES = {
    "state": "at least {need} for its state alone (before compiling)",
    "compiled": "{need} at its peak (XLA's figure for the compiled programs)",
}


class NotEnoughMemory(RuntimeError):
    """The run cannot fit the device's memory; the message is one line."""


def available_bytes(device: Any = None) -> tuple[int | None, str]:
    """(bytes, what) of the device's memory: an accelerator's allocator limit, or on CPU the
    host's available memory (`MemAvailable` of /proc/meminfo, else physical memory)."""
    device = device or jax.local_devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        limit = stats.get("bytes_limit")
        return limit, f"{device.platform} device {device.id}"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "this machine (cpu, available)"
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine (cpu)"
    except (ValueError, OSError):
        return None, "this machine (cpu)"


def sizing_keys(config: dict[str, Any], n_simulations: int) -> dict[int, list[str]]:
    """Every integer value of the experiment's config -> the `key=value` settings that hold it
    (nested keys joined by dots); the number of simulations -> `seeds=S` (and the grid's
    points when there is one)."""
    found: dict[int, list[str]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        elif isinstance(node, int) and not isinstance(node, bool) and node > 1:
            found.setdefault(node, []).append(f"{prefix[:-1]}={node}")

    walk({key: value for key, value in config.items() if key not in ("seed", "grid")}, "")
    seeds = config.get("seeds")
    simulations = (
        [f"seeds={seeds}"]
        if n_simulations == seeds
        else [f"seeds={seeds} × {n_simulations // max(seeds or 1, 1)} grid points"]
    )
    found[n_simulations] = [*simulations, *found.get(n_simulations, [])]
    found[n_simulations] = list(dict.fromkeys(found[n_simulations]))
    return found


def _keys_of(buffer: Buffer, keys: dict[int, list[str]]) -> list[str]:
    """The settings that size `buffer`'s dimensions, in dimension order, each once."""
    return list(dict.fromkeys(setting for size in buffer.shape for setting in keys.get(size, [])))


def message(need: MemoryNeed, available: int, device: str, config, n_simulations) -> str:
    """The one line: what the run needs, what the device has, the largest buffer and keys."""
    keys = sizing_keys(config, n_simulations)
    largest = need.buffers[0] if need.buffers else None
    needs = STAGES[need.stage].format(need=human_bytes(need.nbytes))
    text = f"out of memory: the run needs {needs} but {device} has {human_bytes(available)}"
    if largest is not None:
        text += f"; largest array: {largest.describe()}"
        named = _keys_of(largest, keys)
        if named:
            text += f", sized by {', '.join(named)}"
    return text + "; lower them, or run on a larger device"


def checker(
    config: dict[str, Any], n_simulations: int, available: tuple[int | None, str] | None = None
) -> Callable[[MemoryNeed], None]:
    """A `check_memory` for `loop.run`: raises `NotEnoughMemory` when a need exceeds the
    device's memory (`available`: (bytes, what); default: `available_bytes()`)."""
    capacity, device = available or available_bytes()

    def check(need: MemoryNeed) -> None:
        if capacity is not None and need.nbytes > capacity:
            raise NotEnoughMemory(message(need, capacity, device, config, n_simulations))

    return check


def from_runtime_error(error: Exception, config: dict[str, Any], n_simulations: int,
                       need: MemoryNeed | None) -> NotEnoughMemory | None:  # fmt: skip
    """The one-line error for XLA's `RESOURCE_EXHAUSTED` raised while running, else None."""
    text = str(error)
    if "RESOURCE_EXHAUSTED" not in text:
        return None
    reason = text.splitlines()[0].strip()
    capacity, device = available_bytes()
    if need is None or capacity is None:
        return NotEnoughMemory(f"out of memory while running on {device}: {reason}")
    line = message(need, capacity, device, config, n_simulations)
    return NotEnoughMemory(f"{line} (while running: {reason})")
