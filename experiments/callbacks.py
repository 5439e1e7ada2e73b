"""Hydra callbacks of sweeps: validate every job before any runs; merge the jobs at the end.

Registered in conf/config.yaml under `hydra.callbacks`. They live in the package, not in the
module run with `-m`, so Hydra imports them once.
"""

import sys
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from experiments.usage import describe
from recsim.core.validation import ConfigError


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """Every job's override list, as Hydra's basic sweeper expands `a=1,2 b=x,y` (product)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


def _job_error(job: list[str], reason: str) -> str:
    """`error: <job's overrides>: <reason>`, the overrides left out when the reason starts
    with them already."""
    overrides = " ".join(job)
    return f"error: {reason}" if reason.startswith(overrides) else f"error: {overrides}: {reason}"


class AggregateSweep(Callback):
    """Before a sweep: build every job's experiment (validation only; nothing compiled) and
    stop with one line per bad job. After: write manifest.json, sweep.parquet, summary.csv
    and curves.png to the sweep dir, list failed jobs, and exit non-zero if any failed."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments.config import build_experiment

        hydra = GlobalHydra.instance().hydra
        config_name = config.hydra.job.config_name
        problems = []
        # As the basic sweeper does: `hydra.sweeper.params` (set by presets) before the
        # command line's overrides.
        preset = config.hydra.sweeper.get("params") or {}
        overrides = [f"{key}={value}" for key, value in preset.items()]
        for job in expand_sweep([*overrides, *config.hydra.overrides.task]):
            try:
                job_config = hydra.compose_config(
                    config_name, job, run_mode=RunMode.RUN, with_log_configuration=False
                )
                with open_dict(job_config):
                    del job_config["hydra"]  # as a job sees it: the task's config only
                build_experiment(job_config)
            except ConfigError as error:
                problems.append(_job_error(job, str(error).splitlines()[0]))
            except ConfigCompositionException as error:
                problems.append(_job_error(job, describe(error)))
        if problems:  # one line per job refused
            print("\n".join(problems), file=sys.stderr, flush=True)
            raise SystemExit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra imports this module for every run: keep it light
        from recsim.runs import compare, sweep

        sweep_dir = Path(config.hydra.sweep.dir)
        baseline = config.get("baseline")
        try:
            entries = sweep.aggregate(sweep_dir, baseline=baseline)
        except compare.CompareError as error:
            print(f"error: baseline={baseline}: {error}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        print(f"sweep {sweep_dir}: {sweep.describe(entries)}", flush=True)
        if sweep.failures(entries):
            raise SystemExit(1)
