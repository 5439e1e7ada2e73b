"""Runs an off-policy study in the simulator and writes its files (the library side of
`python -m experiments.ope`; free of Hydra).

Files in the run directory (each atomic): `ope.parquet` (every seed × target × estimator ×
log size: estimate, stderr, 95% interval, truth, truth_stderr; `recsim.ope.report`),
`errors.csv` (over seeds: bias, its se, RMSE, coverage), `ope.png`, `run.json` (config, its
hash, versions, timings), then `COMPLETED`.
"""

import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from recsim.core import loop
from recsim.figures.ope import ope as ope_figure
from recsim.ope import report
from recsim.runs import results

TABLE_COLUMNS = [
    "truth",
    "estimate",
    "bias",
    "bias_se",
    "rmse",
    "coverage",
    "stderr",
    "unsupported",
]


def run_study(study, run_dir: Path, progress: bool | None = None) -> dict[str, Any]:
    """Runs `study` (`experiments.ope_config.Study`), writes its files; returns run.json's
    contents with the errors table (`errors`, not written to run.json)."""
    config = study.config
    seeds = list(range(config.seeds))
    show_bar = sys.stderr.isatty() if progress is None else progress
    wall_start = time.perf_counter()
    compiled = loop.compile_run(study.simulation, study.params, config.seed, seeds, config.steps)
    accumulator = report.Accumulator(config.log_every)

    def bar(chunks):
        return tqdm(chunks, desc="logging", delay=2.0, disable=not show_bar, leave=False)

    outcome = compiled.execute(bar, on_records=lambda index, records: accumulator.add(records))
    targets = [target.name for target in study.targets]
    frame = report.estimates_frame(accumulator, targets, seeds)
    errors = report.errors(frame)
    info = {
        "status": "completed",
        "config": study.resolved,
        "config_hash": results.config_hash(study.resolved),
        "git_sha": results.git_sha(),
        **results.environment_info(),
        "rounds_per_seed": int(frame["rounds"].max()),
        "traces": outcome.traces,
        "compile_seconds": outcome.compile_seconds,
        "run_seconds": outcome.run_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
    }
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results.clear_completed(run_dir)
    title = (f"logger: {config.agent.name} / {config.exploration.name} on env={config.env.name} "
             f"click_model={config.env.click_model}; {config.seeds} seeds")  # fmt: skip
    results.write_atomic(run_dir / "ope.png", lambda tmp: ope_figure(errors, title).savefig(
        tmp, dpi=110, format="png"))  # fmt: skip
    results.write_parquet(run_dir / "ope.parquet", frame)
    results.write_atomic(run_dir / "errors.csv", lambda tmp: errors.to_csv(tmp, index=False))
    results.write_json(run_dir / "run.json", info)
    results.mark_completed(run_dir)
    return {**info, "errors": errors, "title": title}


def final_table(errors: pd.DataFrame) -> str:
    """The errors at the largest log size: a row per target × estimator."""
    final = errors[errors["step"] == errors["step"].max()]
    table = final.set_index(["target", "estimator"])[TABLE_COLUMNS]
    return table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="n/a")
