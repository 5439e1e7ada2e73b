"""Structured configs (Hydra's ConfigStore) and building an `Experiment` from a config.

Types and unknown keys are caught by the structured configs when Hydra composes; ranges and
cross-field rules by `validate_run` and each env / agent config's `validate`, before anything
is compiled.
"""

import dataclasses
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

import agents
import envs
from agents import exploration as explorations
from recsim import loop
from recsim.experiment import Experiment
from recsim.validation import ConfigError, check_int


@dataclasses.dataclass
class RunConfig:
    """Top level of `conf/config.yaml`."""

    seed: int = 0  # master seed
    seeds: int = 8  # number of simulations (seed numbers 0..seeds-1)
    steps: int = 2000  # horizon, a multiple of log_every
    log_every: int = 50  # steps per logged row
    progress: bool | None = None  # progress bar; None: only when stderr is a terminal
    env: Any = MISSING
    agent: Any = MISSING
    exploration: Any = MISSING  # used by learning agents; baselines ignore it


def register_configs() -> None:
    """Stores the schemas: `run_schema`, and `<name>_schema` in each config group."""
    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig)
    groups = (
        ("env", envs.REGISTRY),
        ("agent", agents.REGISTRY),
        ("exploration", explorations.REGISTRY),
    )
    for group, registry in groups:
        for name, (config_class, _) in registry.items():
            store.store(group=group, name=f"{name}_schema", node=config_class)


def validate_run(config: RunConfig) -> None:
    check_int("seed", config.seed, 0, 2**32 - 1)
    check_int("seeds", config.seeds, 1)
    check_int("steps", config.steps, 1)
    check_int("log_every", config.log_every, 1, config.steps, "steps")
    if config.steps % config.log_every:
        raise ConfigError(
            f"steps={config.steps} must be a multiple of log_every={config.log_every}"
        )


def build_experiment(cfg: DictConfig) -> Experiment:
    """Validates the composed config and builds env, agent and the compiled-loop plan."""
    config: RunConfig = OmegaConf.to_object(cfg)
    validate_run(config)
    env, env_params = envs.REGISTRY[config.env.name][1](config.env)
    config.exploration.validate(slate_size=env.spec.slate_size)
    exploration = explorations.REGISTRY[config.exploration.name][1](config.exploration)
    agent, agent_params = agents.REGISTRY[config.agent.name][1](config.agent, env.spec, exploration)
    n_windows = config.steps // config.log_every
    simulation = loop.Simulation(
        env=env,
        agent=agent,
        log_every=config.log_every,
        windows_per_chunk=loop.windows_per_chunk(n_windows),
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("progress", None)  # display only: not part of the experiment's identity
    title = f"env={config.env.name} agent={config.agent.name}"
    if agents.explores(agent):
        title += f" exploration={config.exploration.name}"
    else:
        resolved["exploration"] = None  # ignored: must not change the config hash
    return Experiment(
        simulation=simulation,
        params=loop.SimParams(env=env_params, agent=agent_params),
        master_seed=config.seed,
        seeds=tuple(range(config.seeds)),
        steps=config.steps,
        config=resolved,
        title=title,
    )
