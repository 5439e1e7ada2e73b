"""`python -m experiments.run [overrides]`: one experiment from the Hydra config in conf/.

Writes metrics.parquet, curves.png, run.json and COMPLETED to the run directory
(`hydra.run.dir=DIR` to choose it), and job.json (the job's status; with traceback.txt when it
failed); prints a summary table. With `checkpoint_every=N` the run's state is saved every N
chunks, and a run into a directory holding a checkpoint of its configuration continues from
it (`resume=true` finds the latest such directory beside the new one). Ctrl-C records the job
`interrupted` and exits 130 with one line saying what was kept and the command that resumes
(in a sweep, after merging the jobs that completed).
With `--multirun`, each job does the same in its own directory; a job whose configuration
already completed in the sweep directory is skipped, a failing job is recorded and the others
go on, and `experiments.callbacks.AggregateSweep` merges the results at the end.
"""

import contextlib
import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments import resume
from experiments.config import build_experiment, enable_compilation_cache, register_configs
from experiments.usage import preflight
from recsim.core.validation import ConfigError

HYDRA_DIR = ".hydra"
HYDRA_ONLY = {HYDRA_DIR, "run.log"}  # what Hydra makes in a run dir before the job starts
register_configs()
# JAX logs at INFO that it found no TPU; keep that out of every run's and sweep's console.
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def discard_hydra_files(run_dir: Path) -> None:
    """Removes the directory Hydra made for a run that never started: only when it holds
    nothing but Hydra's own files (an existing run's directory is left as it was)."""
    if run_dir.is_dir() and all(path.name in HYDRA_ONLY for path in run_dir.iterdir()):
        shutil.rmtree(run_dir)


def save_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """`.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml` of the job, as Hydra writes them
    with its `output_subdir` (which conf/config.yaml turns off: see there)."""
    hydra_node = HydraConfig.get()
    files = {
        "config.yaml": cfg,
        "hydra.yaml": OmegaConf.create({"hydra": hydra_node}),
        "overrides.yaml": hydra_node.overrides.task,
    }
    (run_dir / HYDRA_DIR).mkdir(parents=True, exist_ok=True)
    for name, config in files.items():
        (run_dir / HYDRA_DIR / name).write_text(OmegaConf.to_yaml(config), encoding="utf-8")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_config = HydraConfig.get()
    run_dir = Path(hydra_config.runtime.output_dir)
    in_sweep = hydra_config.mode == RunMode.MULTIRUN
    try:
        experiment = build_experiment(cfg)
    except ConfigError as error:
        discard_hydra_files(run_dir)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    # Imported here, not above: they bring pandas, scipy and matplotlib (about 1.5 s), which
    # a usage error (from `preflight` or `build_experiment`) must not wait for.
    from recsim.runs import checkpoint, interrupt, results, sweep
    from recsim.runs.compare import CompareError
    from recsim.runs.device_memory import NotEnoughMemory
    from recsim.runs.experiment import format_report
    from recsim.runs.job import ForeignResultError, RunDirBusyError, SetupChangedError, run_job

    try:
        enable_compilation_cache(cfg.compilation_cache)
    except OSError as error:
        discard_hydra_files(run_dir)
        print(f"error: compilation_cache={cfg.compilation_cache}: {error.strerror or error}; "
              "give a writable directory, or compilation_cache=null", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    sweep_dir = Path(hydra_config.sweep.dir) if in_sweep else None
    interrupt.install()
    if cfg.resume and not in_sweep:  # (a sweep's jobs resume from their checkpoints anyway)
        found = checkpoint.find_resumable(run_dir, results.config_hash(experiment.config))
        if found is None:
            discard_hydra_files(run_dir)
            print(f"error: resume=true: no checkpoint of this configuration in {run_dir} or "
                  f"beside it in {run_dir.parent}; run without resume=true (checkpoint_every=N "
                  "saves one every N chunks)", file=sys.stderr)  # fmt: skip
            sys.exit(2)
        if found != run_dir:
            discard_hydra_files(run_dir)
            run_dir = found
    try:
        job = run_job(experiment, run_dir, hydra_config.overrides.task, sweep_dir,
                      cfg.progress, overwrite=cfg.overwrite,
                      on_start=lambda: save_hydra_files(run_dir, cfg))  # fmt: skip
    except KeyboardInterrupt:
        if in_sweep:
            with contextlib.suppress(CompareError):  # compare.csv is left out, the rest merged
                sweep.aggregate(sweep_dir, baseline=cfg.baseline)
        print(f"interrupted: {run_dir} holds no result (job.json: interrupted); "
              f"{resume.interrupted_note(run_dir, sweep_dir, sys.argv[1:])}", file=sys.stderr,
              flush=True)  # fmt: skip
        sys.stdout.flush()
        # Not sys.exit: XLA may still run the interrupted chunk on its threads, and tearing the
        # interpreter down under it can crash (seen: SIGSEGV after a sweep was interrupted).
        os._exit(130)
    except OSError as error:  # the job's own files could not be written (e.g. a full disk)
        print(f"error: cannot write {error.filename or run_dir}: {error.strerror or error}; "
              "free space there, or choose another directory", file=sys.stderr)  # fmt: skip
        sys.exit(1)
    except RunDirBusyError as error:
        print(f"error: {error}; wait for it, or choose another hydra.run.dir", file=sys.stderr)
        sys.exit(2)
    except (ForeignResultError, SetupChangedError) as error:  # stops a sweep before it starts
        if in_sweep:
            print(f"error: {error}; re-run the sweep with its original overrides, or use a new "
                  "hydra.sweep.dir", file=sys.stderr)  # fmt: skip
            sys.exit(1)
        print(f"error: {error}; pass overwrite=true to replace it, or choose another "
              "hydra.run.dir", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    if job.status == "skipped":
        overrides = " ".join(job.record["overrides"])
        print(f"skipped: {overrides} already completed in {job.completed_in}")
    elif job.status == "failed":
        reason = job.error if isinstance(job.error, NotEnoughMemory) else f"run failed: {job.error}"
        print(f"error: {reason}".splitlines()[0], file=sys.stderr)
        if not in_sweep:
            sys.exit(1)  # in a sweep the failure is recorded and the other jobs go on
    else:
        print(format_report(experiment, job.output, run_dir))


if __name__ == "__main__":
    preflight(sys.argv[1:])
    main()
