"""The record of one job of a sweep (`job.json` in its directory), for manifests and resume.

Lifecycle: `running` when it starts, then `completed` (results written, `COMPLETED` marker),
`failed` (one-line error; traceback in `traceback.txt`), `interrupted` (Ctrl-C) or `skipped`
(the same config hash already completed in another job directory of the sweep, which is
named). A running job holds the lock file `.lock` of its directory (`fcntl.flock`, released by
the kernel however the process ends), so a record still saying `running` whose lock is free
belongs to a process that died without a word (SIGKILL, the out-of-memory killer).
"""

import fcntl
import json
import os
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsim.runs import results

JOB_FILE = "job.json"
TRACEBACK_FILE = "traceback.txt"
LOCK_FILE = ".lock"


def write(job_dir: Path, **record: Any) -> None:
    """Writes (atomically) the job record, stamped with the time."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {**record, "updated": datetime.now(UTC).isoformat(timespec="seconds")}
    results.write_json(job_dir / JOB_FILE, record)


def read(job_dir: Path) -> dict[str, Any] | None:
    path = Path(job_dir) / JOB_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def record_failure(job_dir: Path, base: dict[str, Any], error: BaseException) -> None:
    """Marks the job failed with a one-line reason and keeps the full traceback beside it."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(error))
    results.write_atomic(job_dir / TRACEBACK_FILE, lambda tmp: tmp.write_text(text))
    reason = f"{type(error).__name__}: {error}".splitlines()[0]
    write(job_dir, **{**base, "status": "failed", "error": reason})


def completed_with_hash(sweep_dir: Path, config_hash: str) -> Path | None:
    """A job directory of the sweep holding a completed result of this config hash."""
    for run_json in sorted(Path(sweep_dir).glob("*/run.json")):
        if results.completed_hash(run_json.parent) == config_hash:
            return run_json.parent
    return None


def lock_is_held(job_dir: Path) -> bool:
    """Whether a live process holds the job directory's lock (False when there is no lock
    file). Takes the lock for an instant when it is free."""
    path = Path(job_dir) / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing releases the lock, if taken
    return False
