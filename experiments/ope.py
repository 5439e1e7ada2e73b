"""`python -m experiments.ope [overrides]`: off-policy evaluation against the exact truth.

A logging agent (conf/ope.yaml: agent, exploration, env as in `experiments.run`) learns
online for `steps` steps in each of `seeds` replications; every round is logged with its
propensities, and each target policy's value is estimated from the log by every estimator
and compared with its exact value in the simulator. Writes ope.parquet, errors.csv, ope.png,
run.json and COMPLETED to the run directory and prints the errors at the full log size.

`data=obd data.path=DIR` instead evaluates the Bernoulli-TS policy of the Open Bandit
Dataset from its uniform-random logs (`recsim.ope.obd`).
"""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments.config import enable_compilation_cache
from experiments.ope_config import build_study, register
from experiments.usage import preflight
from recsim.core.validation import ConfigError

register()
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


@hydra.main(version_base="1.3", config_path="../conf", config_name="ope")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.data.name == "obd":
        from recsim.ope import obd

        try:
            print(obd.main(cfg.data.path, cfg.data.campaign, run_dir))
        except obd.DataError as error:
            fail(str(error))
        return
    try:
        study = build_study(cfg)
        enable_compilation_cache(cfg.compilation_cache)
    except ConfigError as error:
        fail(str(error))
    except OSError as error:
        fail(f"compilation_cache={cfg.compilation_cache}: {error.strerror or error}")
    from recsim.ope.study import final_table, run_study

    try:
        info = run_study(study, run_dir, cfg.progress)
    except OSError as error:
        fail(f"cannot write {error.filename or run_dir}: {error.strerror or error}", 1)
    print(info["title"])
    print(f"errors over {study.config.seeds} seeds at {info['rounds_per_seed']:,} rounds per "
          "seed (truth, estimate: clicks per visit; coverage of the 95% intervals):")  # fmt: skip
    print(final_table(info["errors"]))
    print(f"compile {info['compile_seconds']:.1f} s, run {info['run_seconds']:.1f} s")
    print(f"results: {run_dir}")


if __name__ == "__main__":
    preflight(sys.argv[1:], "ope")
    main()
