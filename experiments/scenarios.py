"""Paired comparison of every strategy on the scenario presets (the README's Scenarios tables).

    python -m experiments.scenarios static leaving_users cold_start --seeds 16 --steps 2000

Each preset is composed through Hydra as `python -m experiments.run +experiment=NAME` composes
it, and every job of its sweep (the neural agent with each strategy, each baseline once) runs
with seed numbers 0..seeds−1, so all of them face the same worlds, users and click noise
(common random numbers). Per metric the table gives the final value (mean ± 95% Student-t
half-width over seeds) and the paired difference to the baseline job (mean ± 95% paired-t
half-width); `*` marks a paired interval that excludes 0.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from hydra import compose, initialize_config_dir

import agents
from experiments.config import build_experiment, register_configs
from recsim.core import loop
from recsim.runs.stats import mean_and_ci

CONF = Path(__file__).resolve().parents[1] / "conf"
METRICS = ("expected_ctr", "cum_regret")


def sweep_jobs(preset: str) -> list[list[str]]:
    """Override lists of every job of the preset's own sweep (Cartesian product, in order)."""
    text = (CONF / "experiment" / f"{preset}.yaml").read_text()
    params = ((yaml.safe_load(text).get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    jobs = [[]]
    for key, values in params.items():
        jobs = [job + [f"{key}={value}"] for job in jobs for value in str(values).split(",")]
    return jobs


def distinct_jobs(jobs: list[list[str]]) -> dict[str, list[str]]:
    """One job per strategy: `agent/strategy` for learners, the agent for a baseline (which
    ignores the strategy)."""
    named = {}
    for job in jobs:
        values = dict(override.split("=", 1) for override in job)
        agent = values.get("agent", "neural")
        name = agent if agent in agents.BASELINES else f"{agent}/{values.get('exploration')}"
        named.setdefault(name, job)
    return named


def finals(preset: str, job: list[str], seeds: int, steps: int) -> dict[str, np.ndarray]:
    """Per-seed final value of every metric of one job: metric -> [seeds]."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", [f"+experiment={preset}", *job, f"seeds={seeds}", f"steps={steps}"])
    experiment = build_experiment(cfg)
    rows = loop.run(
        experiment.simulation, experiment.batched_params(), experiment.master_seed,
        experiment.simulation_seeds(), experiment.steps, batched=True,
    ).rows  # fmt: skip
    return {metric: values[:, -1] for metric, values in rows.items()}


def table(results: dict[str, dict[str, np.ndarray]], baseline: str, metric: str) -> str:
    lines = [
        f"| strategy | final `{metric}` | paired difference to {baseline} |",
        "|---|---:|---:|",
    ]
    for name, values in results.items():
        mean, half, _ = mean_and_ci(values[metric])
        diff, diff_half, n = mean_and_ci(values[metric] - results[baseline][metric])
        mark = " *" if name != baseline and n > 1 and abs(diff) > diff_half else ""
        lines.append(f"| {name} | {mean:.4g} ± {half:.2g} | {diff:+.4g} ± {diff_half:.2g}{mark} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--baseline", default="neural/greedy")
    parser.add_argument("--metrics", default=",".join(METRICS))
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    register_configs()
    known = sorted(path.stem for path in (CONF / "experiment").glob("*.yaml"))
    report = []
    for preset in args.presets:
        if preset not in known:
            print(f"error: preset={preset!r} must be one of {known}", file=sys.stderr)
            return 2
        jobs = distinct_jobs(sweep_jobs(preset))
        if args.baseline not in jobs:
            print(f"error: --baseline={args.baseline!r} is not a job of {preset}: {sorted(jobs)}",
                  file=sys.stderr)  # fmt: skip
            return 2
        results = {}
        for name, job in jobs.items():
            results[name] = finals(preset, job, args.seeds, args.steps)
            print(f"{preset}: {name} done", file=sys.stderr, flush=True)
        report.append(f"### `{preset}` ({args.seeds} seeds × {args.steps} steps)\n")
        for metric in args.metrics.split(","):
            report.append(table(results, args.baseline, metric) + "\n")
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
