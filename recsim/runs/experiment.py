"""Runs one experiment and writes its result files (DESIGN.md §6): the library side of
`python -m experiments.run`, free of Hydra and of any particular env or agent."""

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from recsim.core import loop, shared
from recsim.core.metric_table import (
    COLD_START_METRICS,
    LEAVING_METRICS,
    METRIC_NAMES,
    MODEL_METRICS,
    UNCERTAINTY_METRICS,
)
from recsim.runs import (
    checkpoint,
    compare,
    device_memory,
    interactions,
    interrupt,
    results,
    sweep,
)


def world_not_applicable(env_params) -> tuple[str, ...]:
    """The metrics of a dynamic that is off at every grid point (`env_params` stacked [G, ...]):
    the cold-start metrics where no item is ever replaced (`item_churn_rate` 0) and
    `churn_rate` where no user ever leaves (`patience` 0). They would read 0 throughout (a
    new-item recall of 0 where there was nothing new to find), so they are recorded as not
    applicable (NaN), like the model metrics of an agent without a click model. An env whose
    params lack these knobs keeps its values."""

    def off(knob: str) -> bool:
        value = getattr(env_params, knob, None)
        return value is not None and not np.any(np.asarray(value) > 0)

    return (*(COLD_START_METRICS if off("item_churn_rate") else ()),
            *(LEAVING_METRICS if off("patience") else ()))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A validated, fully built experiment."""

    simulation: loop.Simulation
    params: loop.SimParams  # traced knobs, stacked along a leading grid-point axis [G, ...]
    master_seed: int
    seeds: tuple[int, ...]  # seed numbers, run at every grid point
    steps: int
    config: dict[str, Any]  # resolved config, recorded in run.json and hashed
    grid: tuple[dict[str, Any], ...] = ({},)  # {axis path: value} of each grid point
    title: str = ""
    checkpoint_every: int = 0  # chunks between checkpoints (0: none); not part of the config
    # `KEY=VALUE` naming a grid column's value: compare.csv pairs every grid point with it
    baseline: str | None = None
    figures: bool = True  # draw curves.png (false: the numbers only); not part of the config

    @property
    def n_simulations(self) -> int:
        return len(self.grid) * len(self.seeds)

    def batched_params(self) -> loop.SimParams:
        """[G·S, ...]: grid point g's params repeated for each of its S seeds (g major)."""
        repeat = lambda x: jnp.repeat(x, len(self.seeds), axis=0)  # noqa: E731
        return shared.map_batched(repeat, self.params)  # world data stays unbatched

    def simulation_seeds(self) -> list[int]:
        """The seed number of each simulation, [G·S] (g major): CRN across grid points."""
        return list(self.seeds) * len(self.grid)


class RunOutput(NamedTuple):
    """What `run_and_write` wrote, kept in memory."""

    info: dict[str, Any]  # the contents of run.json
    frame: pd.DataFrame  # the contents of metrics.parquet


def run_and_write(experiment: Experiment, run_dir: Path, progress: bool | None = None) -> RunOutput:
    """Runs the experiment, checks every metric is finite, writes the result files.

    Files (each atomic): `curves.png` (unless `experiment.figures` is false), `metrics.parquet`,
    `run.json`, then `COMPLETED`; a run that fails before writing writes nothing, and without
    `COMPLETED` a directory's files are not a result. Returns run.json's contents and the
    metrics frame.

    With `experiment.checkpoint_every` = n > 0, the state after every n-th chunk is saved to
    `run_dir/checkpoint` (`recsim.runs.checkpoint`); a run whose `run_dir` holds a checkpoint
    (of this configuration: `recsim.runs.job` refuses another's) continues from it, to the same
    numbers bit for bit. A completed run removes its checkpoint.
    """
    run_dir = Path(run_dir)
    spec = experiment.simulation.env.spec
    show_bar = sys.stderr.isatty() if progress is None else progress

    steps_per_chunk = experiment.simulation.log_every * experiment.simulation.windows_per_chunk
    per_chunk = experiment.n_simulations * steps_per_chunk * spec.users_per_step

    def bar(chunks: range):
        # One tick per chunk, counted in interactions (so the rate reads interactions/s);
        # shown only after 2 s, so short runs stay quiet; a resumed run starts part-way.
        # Before each chunk: stop if Ctrl-C was pressed (`recsim.runs.interrupt`).
        ticks = tqdm(chunks, desc="simulating", unit=" interactions", unit_scale=per_chunk,
                     delay=2.0, disable=not show_bar, leave=False, initial=chunks.start,
                     total=chunks.stop)  # fmt: skip
        for index in ticks:
            interrupt.check()
            yield index

    needs = []  # what the run holds, as `check_memory` saw it (for a late out-of-memory)
    fits = device_memory.checker(experiment.config, experiment.n_simulations)

    def check_memory(need):
        needs.append(need)
        fits(need)

    config_hash = results.config_hash(experiment.config)
    wall_start = time.perf_counter()
    try:
        compiled = loop.compile_run(
            experiment.simulation,
            experiment.batched_params(),
            experiment.master_seed,
            experiment.simulation_seeds(),
            experiment.steps,
            batched=True,
            check_memory=check_memory,
        )
        resume = _resume(run_dir, compiled, config_hash)
        log = _interaction_writer(experiment, run_dir, fresh=resume is None)
        outcome = compiled.execute(
            bar,
            resume,
            _checkpointer(run_dir, compiled, config_hash, experiment.checkpoint_every),
            log,
        )
    except jax.errors.JaxRuntimeError as error:
        need = needs[-1] if needs else None
        oom = device_memory.from_runtime_error(
            error, experiment.config, experiment.n_simulations, need
        )
        if oom is None:
            raise
        raise oom from error
    frame = results.metrics_frame(
        outcome.rows, experiment.simulation_seeds(), experiment.simulation.log_every
    )
    axes = list(experiment.grid[0])
    rows_per_point = len(experiment.seeds) * outcome.rows["ctr"].shape[1]
    for position, path in enumerate(axes):
        values = [point[path] for point in experiment.grid]
        frame.insert(position, path, np.repeat(np.asarray(values), rows_per_point))
    agent = experiment.simulation.agent
    if not agent.predicts_clicks:
        not_applicable = MODEL_METRICS
    else:
        not_applicable = () if agent.reports_uncertainty else UNCERTAINTY_METRICS
    not_applicable = (*not_applicable, *world_not_applicable(experiment.params.env))
    frame[list(not_applicable)] = float("nan")
    results.check_finite(frame, not_applicable)
    interactions = experiment.n_simulations * experiment.steps * spec.users_per_step
    run_now = 1 - outcome.resumed_at / compiled.n_chunks  # share of the run this process ran
    info = {
        "status": "completed",
        "config": experiment.config,
        "config_hash": config_hash,
        # what identifies the world data read (`SharedData.digest`: e.g. the data files'
        # sha256 and the fit's cache file), which the config names only by its path
        "world_data": shared.digests(experiment.params),
        "git_sha": results.git_sha(),
        **results.environment_info(),
        "simulations": experiment.n_simulations,
        "grid_points": len(experiment.grid),
        "seeds": len(experiment.seeds),
        "steps": experiment.steps,
        "traces": outcome.traces,
        # XLA compilations measured while building init and chunk, and while running them
        "compiles": outcome.compiles,
        "compile_cache_hits": outcome.cache_hits,  # of those, loaded from the persistent cache
        "devices_used": outcome.devices,
        # per device: the state (exact) and XLA's peak for the compiled programs
        "memory_bytes": outcome.memory_bytes,
        "not_applicable": list(not_applicable),
        "compile_seconds": outcome.compile_seconds,
        "run_seconds": outcome.run_seconds,  # of the chunks this process ran
        "wall_seconds": time.perf_counter() - wall_start,
        "interactions": interactions,
        "interactions_per_second": interactions * run_now / outcome.run_seconds,
        "chunks": compiled.n_chunks,
        "checkpoint_every": experiment.checkpoint_every,
        "resumed_at_chunk": outcome.resumed_at,  # 0: ran from the start
    }
    summary = sweep.summarize(frame)
    comparison = None
    if experiment.baseline is not None:  # names a grid column (`experiments.config`)
        comparison = compare.compare(frame, sweep.configuration_columns(frame), experiment.baseline)
    run_dir.mkdir(parents=True, exist_ok=True)
    results.clear_completed(run_dir)  # a re-used run dir is not "completed" while rewritten
    results.write_atomic(run_dir / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    (run_dir / sweep.COMPARE_FILE).unlink(missing_ok=True)  # an older run's
    if comparison is not None:
        results.write_atomic(
            run_dir / sweep.COMPARE_FILE, lambda tmp: comparison.to_csv(tmp, index=False)
        )
    if experiment.figures:
        # Imported here: matplotlib is half a second of a run's start that figures=false skips.
        from recsim import figures

        results.write_atomic(
            run_dir / "curves.png",
            lambda tmp: figures.curves(frame, axes, METRIC_NAMES, title=experiment.title).savefig(
                tmp, dpi=110, format="png"
            ),
        )
    else:
        (run_dir / "curves.png").unlink(missing_ok=True)  # an older run's: not of these numbers
    results.write_parquet(run_dir / "metrics.parquet", frame)
    results.write_json(run_dir / "run.json", info)
    results.mark_completed(run_dir)
    checkpoint.remove(run_dir)
    return RunOutput(info, frame)


def _interaction_writer(
    experiment: Experiment, run_dir: Path, fresh: bool
) -> interactions.Writer | None:
    """The interaction log's writer when the run keeps one (`log.interactions`); a run from
    its first step clears an earlier run's parts (a resumed run keeps those of its chunks)."""
    if experiment.simulation.record is not interactions.record:
        return None
    per_simulation = {
        axis: np.repeat([point[axis] for point in experiment.grid], len(experiment.seeds))
        for axis in experiment.grid[0]
    }
    writer = interactions.Writer(run_dir, experiment.simulation_seeds(), per_simulation)
    if fresh:
        writer.clear()
    return writer


class CheckpointMismatchError(RuntimeError):
    """The run directory's checkpoint is not of this run."""


def _resume(run_dir: Path, compiled: loop.CompiledRun, config_hash: str) -> loop.Resume | None:
    """Where the run continues from: the checkpoint in `run_dir`, if any (None: from init).
    `recsim.runs.job` has refused another configuration's or setup's checkpoint already; this
    checks again before reading it."""
    meta = checkpoint.latest(run_dir)
    if meta is None:
        return None
    if meta.config_hash != config_hash or meta.n_chunks != compiled.n_chunks:
        raise CheckpointMismatchError(
            f"{run_dir / checkpoint.DIR} is of config hash {meta.config_hash[:12]} "
            f"({meta.n_chunks} chunks), not of this run ({config_hash[:12]}, "
            f"{compiled.n_chunks} chunks)"
        )
    rows_info = {name: np.dtype(info.dtype) for name, info in compiled.rows_info.items()}
    return checkpoint.restore(run_dir, meta, compiled.carry_info, rows_info)


def _checkpointer(
    run_dir: Path, compiled: loop.CompiledRun, config_hash: str, every: int
) -> loop.AfterChunk | None:
    """Saves a checkpoint after every `every`-th chunk (None when `every` is 0)."""
    if not every:
        return None
    setup = checkpoint.setup()

    def save(chunks_done, carry, rows):
        if chunks_done % every == 0:
            meta = checkpoint.Meta(
                config_hash, chunks_done, compiled.n_chunks,
                chunks_done * compiled.steps_per_chunk, checkpoint.key_impl(carry), setup,
            )  # fmt: skip
            checkpoint.save(run_dir, meta, carry, rows)

    return save


def format_summary(summary: pd.DataFrame) -> str:
    """A `recsim.runs.sweep.summarize` table to print: a row per metric, a `final mean ± 95% CI`
    column per configuration (grid point); "not applicable" for a metric that is NaN there."""
    summary = summary.copy()
    by = list(summary.columns[: list(summary.columns).index("metric")])
    summary["value"] = [
        "not applicable" if np.isnan(m) else f"{m:.4f} ± {c:.4f}"
        for m, c in zip(summary["final_mean"], summary["final_ci95"], strict=True)
    ]
    summary["point"] = (
        summary[list(by)].astype(str).agg(", ".join, axis=1) if by else "mean ± 95% CI"
    )
    table = summary.pivot(index="metric", columns="point", values="value")
    return table.reindex(list(METRIC_NAMES)).to_string()


def format_report(experiment: Experiment, output: RunOutput, run_dir: Path) -> str:
    """What `python -m experiments.run` prints after a run: sizes, the summary table across
    seeds, compile and run time, and where the results are."""
    info, axes = output.info, list(experiment.grid[0])
    lines = [
        f"{experiment.title}: {len(experiment.grid)} grid point(s) x {info['seeds']} seeds x "
        f"{info['steps']} steps",
        format_summary(sweep.summarize(output.frame)),
    ]
    if axes:
        lines.append(f"(columns: {', '.join(axes)}; {info['seeds']} seeds per grid point)")
    lines.append(
        f"compile {info['compile_seconds']:.1f} s, run {info['run_seconds']:.1f} s, "
        f"{info['interactions_per_second']:,.0f} interactions/s on {info['backend']}"
    )
    lines.append(f"results: {run_dir}")
    return "\n".join(lines)
