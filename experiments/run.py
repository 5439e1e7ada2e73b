"""`python -m experiments.run [overrides]`: one experiment from the Hydra config in conf/.

Writes metrics.parquet, curves.png, run.json and COMPLETED to the run directory
(`hydra.run.dir=DIR` to choose it), and job.json (the job's status; with traceback.txt when it
failed); prints a summary table.
With `--multirun`, each job does the same in its own directory; a job whose configuration
already completed in the sweep directory is skipped, a failing job is recorded and the others
go on, and `experiments.callbacks.AggregateSweep` merges the results at the end.
"""

import logging
import shutil
import sys
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from experiments.config import build_experiment, enable_compilation_cache, register_configs
from recsim.core.validation import ConfigError
from recsim.runs import jobs, results, sweep
from recsim.runs.experiment import format_summary, run_and_write

register_configs()
# JAX logs at INFO that it found no TPU; keep that out of every run's and sweep's console.
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def discard_hydra_files(run_dir: Path) -> None:
    """Removes what Hydra wrote for a run that never started, and the dir if then empty."""
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    (run_dir / "run.log").unlink(missing_ok=True)
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


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
    record = {
        "overrides": list(hydra_config.overrides.task),
        "config_hash": results.config_hash(experiment.config),
    }
    if in_sweep:
        if (
            results.is_completed(run_dir)
            and results.completed_hash(run_dir) != record["config_hash"]
        ):
            # The job numbers of this sweep dir belonged to other configurations: never
            # overwrite a completed result. Stop the sweep before touching anything.
            print(
                f"error: {run_dir} holds the completed result of another configuration; re-run "
                "the sweep with its original overrides, or use a new hydra.sweep.dir",
                file=sys.stderr,
            )
            sys.exit(1)
        done = jobs.completed_with_hash(Path(hydra_config.sweep.dir), record["config_hash"])
        if done is not None:
            if done != run_dir:
                jobs.write(run_dir, status="skipped", completed_in=str(done), **record)
            print(f"skipped: {' '.join(record['overrides'])} already completed in {done}")
            return
    jobs.write(run_dir, status="running", **record)
    enable_compilation_cache(cfg.compilation_cache)
    try:
        info = run_and_write(experiment, run_dir, progress=cfg.progress)
    except Exception as error:  # recorded for the sweep; every other job goes on
        jobs.record_failure(run_dir, record, error)
        print(f"error: run failed: {error}".splitlines()[0], file=sys.stderr)
        if in_sweep:
            return
        sys.exit(1)
    jobs.write(run_dir, status="completed", **record)
    frame = pd.read_parquet(run_dir / "metrics.parquet")
    axes = list(experiment.grid[0])
    print(
        f"{experiment.title}: {len(experiment.grid)} grid point(s) x {info['seeds']} seeds x "
        f"{info['steps']} steps"
    )
    print(format_summary(sweep.summarize(frame)))
    if axes:
        print(f"(columns: {', '.join(axes)}; {info['seeds']} seeds per grid point)")
    print(
        f"compile {info['compile_seconds']:.1f} s, run {info['run_seconds']:.1f} s, "
        f"{info['interactions_per_second']:,.0f} interactions/s on {info['backend']}"
    )
    print(f"results: {run_dir}")


if __name__ == "__main__":
    main()
