"""Runs one job and keeps its record (`job.json`): the lifecycle behind
`python -m experiments.run`, free of Hydra.

A job is one experiment in one run directory, which it holds locked while it runs (a second
job into the same directory is refused). In a sweep (`sweep_dir` given), a job whose config
hash already completed in the sweep directory is skipped. A run directory that holds the
completed result, or the checkpoint, of another configuration is refused before anything is
touched (a single run may replace it with `overwrite`); one that holds a checkpoint of this
configuration continues from it (`recsim.runs.checkpoint`), in a sweep as in a single run.
Otherwise the job is recorded `running`, run, and recorded `completed` or `failed` (with the
traceback beside the record): a failure is returned, not raised, so a sweep can go on. An
interrupt (Ctrl-C) is recorded `interrupted` and raised again.
"""

import contextlib
import dataclasses
import fcntl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recsim.runs import checkpoint, interrupt, jobs, results
from recsim.runs.experiment import Experiment, RunOutput, run_and_write


class RunDirBusyError(RuntimeError):
    """Another job is writing the run directory (the argument) now."""

    def __init__(self, run_dir: Path):
        super().__init__(f"{run_dir} is being written by another run now")
        self.run_dir = run_dir


class ForeignResultError(RuntimeError):
    """The run directory (the argument) holds the completed result, or the checkpoint of an
    unfinished run, of another configuration."""

    def __init__(self, run_dir: Path, what: str = "the completed result"):
        super().__init__(f"{run_dir} holds {what} of another configuration")
        self.run_dir = run_dir


class SetupChangedError(RuntimeError):
    """The run directory holds a checkpoint of this configuration made under another setup
    (code, backend, devices or packages): resuming it would not give the same numbers."""

    def __init__(self, run_dir: Path, changed: str):
        super().__init__(f"{run_dir} holds a checkpoint made under another setup ({changed}); "
                         "a resumed run would not give the same numbers")  # fmt: skip
        self.run_dir = run_dir


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How a job ended: `completed` (with `output`), `failed` (with `error`) or `skipped`
    (with `completed_in`, the job directory that holds its result)."""

    status: str
    run_dir: Path
    record: dict[str, Any]  # overrides and config hash, as in job.json
    output: RunOutput | None = None
    error: BaseException | None = None
    completed_in: Path | None = None


def run_job(
    experiment: Experiment,
    run_dir: Path,
    overrides: Sequence[str],
    sweep_dir: Path | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
    on_start: Callable[[], None] | None = None,
) -> JobOutcome:
    """Runs `experiment` in `run_dir` and records the job there (see the module docstring).

    Args:
      experiment: the built, validated experiment.
      run_dir: the job's directory.
      overrides: the command-line overrides that made the job (recorded).
      sweep_dir: the sweep directory when the job is part of a sweep; None for a single run.
      progress: show a progress bar (None: only when stderr is a terminal).
      overwrite: a single run may replace the completed result of another configuration.
      on_start: called once the job is sure to run, before its record is first written
        (the caller's own files of the job, e.g. Hydra's `.hydra/`, so that a refused or
        skipped job leaves every file of a completed one untouched).

    Raises:
      ForeignResultError: `run_dir` holds the completed result, or a checkpoint, of another
        configuration (in a sweep always, in a single run unless `overwrite`); nothing is
        written.
      SetupChangedError: `run_dir` holds a checkpoint of this configuration saved under
        another setup (in a sweep always, in a single run unless `overwrite`).
      RunDirBusyError: another job holds the run directory's lock; nothing is written.
    """
    run_dir = Path(run_dir)
    with _locked(run_dir):
        return _run_locked(experiment, run_dir, overrides, sweep_dir, progress, overwrite,
                           on_start)  # fmt: skip


@contextlib.contextmanager
def _locked(run_dir: Path):
    """Holds an exclusive lock on `run_dir/.lock` (released when the process ends, however)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / jobs.LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirBusyError(run_dir) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_locked(
    experiment, run_dir, overrides, sweep_dir, progress, overwrite, on_start
) -> JobOutcome:
    config_hash = results.config_hash(experiment.config)
    record = {"overrides": list(overrides), "config_hash": config_hash}
    foreign = results.is_completed(run_dir) and results.completed_hash(run_dir) != config_hash
    if foreign and (sweep_dir is not None or not overwrite):
        # In a sweep, the job numbers of this sweep dir belonged to other configurations;
        # a single run replaces another configuration's result only when asked to.
        raise ForeignResultError(run_dir)
    saved = checkpoint.latest(run_dir)  # a run continues from a checkpoint of its own config
    if saved is not None and results.is_completed(run_dir) and not foreign:
        checkpoint.remove(run_dir)  # left by a process that died just after completing
    elif saved is not None and saved.config_hash != config_hash:
        if sweep_dir is not None or not overwrite:
            raise ForeignResultError(run_dir, "the checkpoint of an unfinished run")
        checkpoint.remove(run_dir)
    elif saved is not None:
        changed = checkpoint.differences(saved.setup, checkpoint.setup())
        if changed and (sweep_dir is not None or not overwrite):
            raise SetupChangedError(run_dir, changed)
        if changed:
            checkpoint.remove(run_dir)
    if sweep_dir is not None:
        done = jobs.completed_with_hash(Path(sweep_dir), config_hash)
        if done is not None:
            if done != run_dir:
                jobs.write(run_dir, status="skipped", completed_in=str(done), **record)
            return JobOutcome("skipped", run_dir, record, completed_in=done)
    if on_start is not None:
        on_start()
    jobs.write(run_dir, status="running", **record)
    try:
        output = run_and_write(experiment, run_dir, progress=progress)
    except KeyboardInterrupt:  # the user stopped it: recorded truly, then stop everything
        jobs.write(run_dir, status="interrupted", **record)
        raise
    except Exception as error:
        # A Ctrl-C that lands inside a library can come out as another error (seen: an
        # AttributeError from JAX's tracing): the user stopped the job all the same.
        if interrupt.REQUESTED.is_set():
            jobs.write(run_dir, status="interrupted", **record)
            raise KeyboardInterrupt from error
        # Any other error is recorded for the sweep; every other job goes on.
        with contextlib.suppress(OSError):  # e.g. the disk is full: the record stays `running`
            jobs.record_failure(run_dir, record, error)  # and its free lock tells it died
        return JobOutcome("failed", run_dir, record, error=error)
    jobs.write(run_dir, status="completed", **record)
    return JobOutcome("completed", run_dir, record, output=output)
