"""Runs one job and keeps its record (`job.json`): the lifecycle behind
`python -m experiments.run`, free of Hydra.

A job is one experiment in one run directory. In a sweep (`sweep_dir` given), a job whose
config hash already completed in the sweep directory is skipped, and a run directory that
holds the completed result of another configuration is refused before anything is touched.
Otherwise the job is recorded `running`, run, and recorded `completed` or `failed` (with the
traceback beside the record): a failure is returned, not raised, so a sweep can go on. An
interrupt (Ctrl-C) is recorded `interrupted` and raised again.
"""

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsim.runs import jobs, results
from recsim.runs.experiment import Experiment, RunOutput, run_and_write


class ForeignResultError(RuntimeError):
    """The run directory (the argument) holds the completed result of another
    configuration."""

    def __init__(self, run_dir: Path):
        super().__init__(f"{run_dir} holds the completed result of another configuration")
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
) -> JobOutcome:
    """Runs `experiment` in `run_dir` and records the job there (see the module docstring).

    Args:
      experiment: the built, validated experiment.
      run_dir: the job's directory.
      overrides: the command-line overrides that made the job (recorded).
      sweep_dir: the sweep directory when the job is part of a sweep; None for a single run.
      progress: show a progress bar (None: only when stderr is a terminal).

    Raises:
      ForeignResultError: in a sweep, `run_dir` holds the completed result of another
        configuration (nothing is written).
    """
    run_dir = Path(run_dir)
    config_hash = results.config_hash(experiment.config)
    record = {"overrides": list(overrides), "config_hash": config_hash}
    if sweep_dir is not None:
        if results.is_completed(run_dir) and results.completed_hash(run_dir) != config_hash:
            # The job numbers of this sweep dir belonged to other configurations: never
            # overwrite a completed result.
            raise ForeignResultError(run_dir)
        done = jobs.completed_with_hash(Path(sweep_dir), config_hash)
        if done is not None:
            if done != run_dir:
                jobs.write(run_dir, status="skipped", completed_in=str(done), **record)
            return JobOutcome("skipped", run_dir, record, completed_in=done)
    jobs.write(run_dir, status="running", **record)
    try:
        output = run_and_write(experiment, run_dir, progress=progress)
    except KeyboardInterrupt:  # the user stopped it: recorded truly, then stop everything
        jobs.write(run_dir, status="interrupted", **record)
        raise
    except Exception as error:  # recorded for the sweep; every other job goes on
        jobs.record_failure(run_dir, record, error)
        return JobOutcome("failed", run_dir, record, error=error)
    jobs.write(run_dir, status="completed", **record)
    return JobOutcome("completed", run_dir, record, output=output)
