"""Result files of one run (DESIGN.md §6): tidy metrics, provenance, atomic writes.

Every file is written to a temporary name in the same directory and moved into place with
`os.replace`, so a reader never sees a partial file; `COMPLETED` is written last.
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from recsim.core.metric_table import COUNT_NAMES, METRIC_NAMES

COMPLETED = "COMPLETED"
_UMASK = os.umask(0)
os.umask(_UMASK)
PACKAGES = ("jax", "jaxlib", "flax", "optax", "chex", "numpy", "pandas", "hydra-core")


class NonFiniteMetricError(RuntimeError):
    """A metric came out NaN or infinite: the run is failed, never silently averaged."""


def metrics_frame(rows: dict[str, np.ndarray], seeds: list[int], log_every: int) -> pd.DataFrame:
    """One row per (seed, logged step): `seed`, `step`, counts and every metric.

    `step` is the number of steps completed when the row was logged (log_every, 2·log_every, …).
    """
    n_sims, n_windows = rows[METRIC_NAMES[0]].shape
    frame = pd.DataFrame(
        {
            "seed": np.repeat(np.asarray(seeds, np.int64), n_windows),
            "step": np.tile(np.arange(1, n_windows + 1, dtype=np.int64) * log_every, n_sims),
        }
    )
    for name in COUNT_NAMES:
        frame[name] = rows[name].reshape(-1).astype(np.int64)
    for name in METRIC_NAMES:
        frame[name] = rows[name].reshape(-1).astype(np.float64)
    return frame


def check_finite(frame: pd.DataFrame, not_applicable: tuple[str, ...] = ()) -> None:
    """Raises `NonFiniteMetricError` naming the first non-finite metric, seed and step.

    Metrics in `not_applicable` (NaN by design, e.g. prediction_mae of an agent without a click
    model) are skipped.
    """
    names = [name for name in METRIC_NAMES if name not in not_applicable]
    values = frame[names].to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise NonFiniteMetricError(
            f"metric {names[col]} is {values[row, col]} at seed={frame['seed'].iat[row]} "
            f"step={frame['step'].iat[row]}"
        )


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the resolved config as canonical JSON (sorted keys)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def git_sha() -> str:
    """Commit of the source tree this package runs from (with `+dirty`), or `unknown`."""
    source = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def environment_info() -> dict[str, Any]:
    """Python and package versions, backend and devices."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "backend": jax.default_backend(),
        "devices": [str(device) for device in jax.devices()],
        "platform": platform.platform(),
        "argv": sys.argv,
    }


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Calls `write(tmp)` on a temporary file beside `path`, then renames it to `path`.

    Raises:
      OSError: `path` could not be written (its `filename` is `path`, whatever failed).
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except OSError as error:  # name the file the user knows, not the temporary one
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def mark_completed(run_dir: Path) -> None:
    write_atomic(Path(run_dir) / COMPLETED, lambda tmp: tmp.write_text("completed\n"))


def is_completed(run_dir: Path) -> bool:
    return (Path(run_dir) / COMPLETED).exists()


def clear_completed(run_dir: Path) -> None:
    """Withdraws the marker before a directory's results are rewritten."""
    (Path(run_dir) / COMPLETED).unlink(missing_ok=True)


def completed_hash(run_dir: Path) -> str | None:
    """The config hash of a completed result in `run_dir` (None if none)."""
    path = Path(run_dir) / "run.json"
    if not (is_completed(run_dir) and path.is_file()):
        return None
    return json.loads(path.read_text()).get("config_hash")
