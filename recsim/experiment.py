"""Runs one experiment and writes its result files (DESIGN.md §6): the library side of
`python -m experiments.run`, free of Hydra and of any particular env or agent."""

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from recsim import loop, plotting, results
from recsim.metrics import METRIC_NAMES, MODEL_METRICS


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A validated, fully built experiment."""

    simulation: loop.Simulation
    params: loop.SimParams
    master_seed: int
    seeds: tuple[int, ...]
    steps: int
    config: dict[str, Any]  # resolved config, recorded in run.json and hashed
    title: str = ""


def run_and_write(experiment: Experiment, run_dir: Path, progress: bool | None = None) -> dict:
    """Runs the experiment, checks every metric is finite, writes the result files.

    Files (each atomic): `curves.png`, `metrics.parquet`, `run.json`, then `COMPLETED`; a run
    that fails before writing writes nothing, and without `COMPLETED` a directory's files are
    not a result. Returns the contents of run.json.
    """
    run_dir = Path(run_dir)
    spec = experiment.simulation.env.spec
    show_bar = sys.stderr.isatty() if progress is None else progress

    def bar(chunks):
        return tqdm(chunks, desc="chunks", unit="chunk", disable=not show_bar, leave=False)

    wall_start = time.perf_counter()
    outcome = loop.run(
        experiment.simulation,
        experiment.params,
        experiment.master_seed,
        experiment.seeds,
        experiment.steps,
        progress=bar,
    )
    frame = results.metrics_frame(
        outcome.rows, list(experiment.seeds), experiment.simulation.log_every
    )
    not_applicable = () if experiment.simulation.agent.predicts_clicks else MODEL_METRICS
    frame[list(not_applicable)] = float("nan")
    results.check_finite(frame, not_applicable)
    interactions = len(experiment.seeds) * experiment.steps * spec.users_per_step
    info = {
        "status": "completed",
        "config": experiment.config,
        "config_hash": results.config_hash(experiment.config),
        "git_sha": results.git_sha(),
        **results.environment_info(),
        "simulations": len(experiment.seeds),
        "steps": experiment.steps,
        "traces": outcome.traces,
        "not_applicable": list(not_applicable),
        "compile_seconds": outcome.compile_seconds,
        "run_seconds": outcome.run_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "interactions": interactions,
        "interactions_per_second": interactions / outcome.run_seconds,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    results.write_atomic(
        run_dir / "curves.png",
        lambda tmp: plotting.plot_curves(frame, tmp, title=experiment.title),
    )
    results.write_parquet(run_dir / "metrics.parquet", frame)
    results.write_json(run_dir / "run.json", info)
    results.mark_completed(run_dir)
    return info


def final_summary(frame: pd.DataFrame, window: int = 1) -> pd.DataFrame:
    """Mean ± 95% CI across seeds of every metric over the last `window` logged steps."""
    last_steps = sorted(frame["step"].unique())[-window:]
    final = frame[frame["step"].isin(last_steps)].groupby("seed")[list(METRIC_NAMES)].mean()
    table = [(name, *plotting.mean_and_ci(final[name])) for name in METRIC_NAMES]
    return pd.DataFrame(table, columns=["metric", "mean", "ci95", "seeds"]).set_index("metric")
