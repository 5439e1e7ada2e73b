"""`python -m experiments.aggregate SWEEP_DIR [--baseline KEY=VALUE] [--figures DIR] [--by KEY]
[--pdf]`.

(Re)builds a sweep's merged results: manifest.json, sweep.parquet, summary.csv and curves.png
from the jobs that have completed so far — also for a partial or interrupted sweep — and lists
failed jobs. With `--figures DIR`, also writes the paper figures of `recsim.figures` there
(accuracy, diversity, novelty, fairness curves and the trade-off plot, one colour per value of
`--by`, default: the first varying override). With `--baseline KEY=VALUE` (e.g.
`exploration=greedy`), also compare.csv: every configuration's paired differences to the
baseline over seeds (`recsim.runs.compare`), and with `--figures` a forest plot of them per
metric family. Exit code: 0 if no job failed, 1 otherwise, 2 if the directory holds no job or
the comparison cannot be made.

A single run's directory (e.g. of the strategy axis, `+experiment=compare_exploration`) holds
its merged files already (metrics.parquet, summary.csv, compare.csv); given one, `--figures`
draws its paper figures and nothing is rebuilt.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

import agents
from agents import exploration as explorations
from recsim import figures
from recsim.runs import compare, sweep

RUN_METRICS = "metrics.parquet"  # a single run's rows (one per grid point, seed and step)


def legend_column(frame: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The first varying override; for a sweep over agents × strategies (the scenario presets),
    a `strategy` column: `agent/strategy` for learners, the agent's name for a baseline."""
    columns = sweep.configuration_columns(frame)
    if not {"agent", "exploration"} <= set(columns):
        return columns[0]
    for table in (frame, summary):
        add_strategy_column(table)
    return "strategy"


def add_strategy_column(table: pd.DataFrame) -> None:
    """`strategy`: `agent/exploration` for learners, the agent's name for a baseline."""
    table["strategy"] = [
        agent if agent in agents.BASELINES else f"{agent}/{exploration}"
        for agent, exploration in zip(table["agent"], table["exploration"], strict=True)
    ]


def colour_order() -> tuple[str, ...]:
    """Every strategy and baseline name: each keeps its colour in every figure."""
    return (*explorations.REGISTRY.names(), *agents.BASELINES)


def write_figures(sweep_dir: Path, out: Path, by: str | None, pdf: bool) -> list[Path]:
    """The paper figures of a merged sweep, one colour per value of `by` (and the forest plots
    of compare.csv when the sweep has one)."""
    merged = sweep_dir / "sweep.parquet"
    frame = pd.read_parquet(merged if merged.exists() else sweep_dir / RUN_METRICS)
    summary = pd.read_csv(sweep_dir / "summary.csv")
    if by is None:
        by = legend_column(frame, summary)
    frame[by] = frame[by].astype(str)
    colours = figures.palette(frame[by], order=colour_order())
    written = []
    for family, metrics in figures.FAMILIES.items():
        fig = figures.curves(frame, by, metrics, colours)
        written += figures.save(fig, out / family, pdf=pdf)
    written += figures.save(figures.tradeoff(summary, by, colours=colours), out / "tradeoff", pdf)
    if (sweep_dir / sweep.COMPARE_FILE).exists():
        table = pd.read_csv(sweep_dir / sweep.COMPARE_FILE)
        if by == "strategy" and by not in table.columns:
            add_strategy_column(table)
        for family, metrics in figures.FAMILIES.items():
            fig = figures.forest(table, by, metrics, colours=colours)
            written += figures.save(fig, out / f"compare_{family}", pdf=pdf)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--figures", type=Path, help="also write the paper figures here")
    parser.add_argument("--by", help="the override that names the lines (default: first varying)")
    parser.add_argument("--pdf", action="store_true", help="write PDF beside every PNG figure")
    parser.add_argument("--baseline", help="KEY=VALUE: write compare.csv, paired differences "
                        "to that configuration (e.g. exploration=greedy)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: sweep_dir={args.sweep_dir} is not a directory", file=sys.stderr)
        return 2
    if not sweep.job_dirs(args.sweep_dir) and (args.sweep_dir / RUN_METRICS).exists():
        if not args.figures or args.baseline:
            print(f"error: sweep_dir={args.sweep_dir} is one run's directory: its merged files "
                  "are written by the run (baseline=KEY=VALUE there); only --figures applies",
                  file=sys.stderr)  # fmt: skip
            return 2
        for path in write_figures(args.sweep_dir, args.figures, args.by, args.pdf):
            print(f"figure: {path}")
        return 0
    if not sweep.job_dirs(args.sweep_dir):
        print(f"error: sweep_dir={args.sweep_dir} holds no job (no */job.json)", file=sys.stderr)
        return 2
    try:
        entries = sweep.aggregate(args.sweep_dir, baseline=args.baseline)
    except compare.CompareError as error:
        print(f"error: --baseline {args.baseline}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: sweep_dir={args.sweep_dir}: cannot write the merged results "
              f"({error.strerror or error}: {error.filename})", file=sys.stderr)  # fmt: skip
        return 2
    print(f"sweep {args.sweep_dir}: {sweep.describe(entries)}")
    if args.figures and (args.sweep_dir / "sweep.parquet").exists():
        for path in write_figures(args.sweep_dir, args.figures, args.by, args.pdf):
            print(f"figure: {path}")
    return 1 if sweep.failures(entries) else 0


if __name__ == "__main__":
    sys.exit(main())
