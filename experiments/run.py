"""`python -m experiments.run [overrides]`: one experiment from the Hydra config in conf/.

Writes metrics.parquet, curves.png, run.json and COMPLETED to the run directory
(`hydra.run.dir=DIR` to choose it) and prints a summary table.
"""

import shutil
import sys
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments.config import build_experiment, register_configs
from recsim.experiment import final_summary, format_summary, run_and_write
from recsim.results import NonFiniteMetricError
from recsim.validation import ConfigError

register_configs()


def discard_hydra_files(run_dir: Path) -> None:
    """Removes what Hydra wrote for a run that never started, and the dir if then empty."""
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    (run_dir / "run.log").unlink(missing_ok=True)
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        experiment = build_experiment(cfg)
    except ConfigError as error:
        discard_hydra_files(run_dir)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        info = run_and_write(experiment, run_dir, progress=cfg.progress)
    except NonFiniteMetricError as error:
        print(f"error: run failed: {error}", file=sys.stderr)
        sys.exit(1)
    frame = pd.read_parquet(run_dir / "metrics.parquet")
    axes = list(experiment.grid[0])
    print(
        f"{experiment.title}: {len(experiment.grid)} grid point(s) x {info['seeds']} seeds x "
        f"{info['steps']} steps"
    )
    print(format_summary(final_summary(frame, by=axes), by=axes))
    if axes:
        print(f"(columns: {', '.join(axes)}; {info['seeds']} seeds per grid point)")
    print(
        f"compile {info['compile_seconds']:.1f} s, run {info['run_seconds']:.1f} s, "
        f"{info['interactions_per_second']:,.0f} interactions/s on {info['backend']}"
    )
    print(f"results: {run_dir}")


if __name__ == "__main__":
    main()
