"""The config of `python -m experiments.ope` (conf/ope.yaml) and building its study from it.

The world, the logging agent and its exploration are the same groups and schemas as
`experiments.run`'s (`env`, `agent`, `exploration`); `targets` names the policies to evaluate
from the log (label -> an exploration strategy's config, or `{name: oracle}`); `data=obd`
evaluates on the Open Bandit Dataset instead of the simulator.
"""

import dataclasses
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from agents import exploration as explorations
from agents.neural import NeuralAgent
from experiments.config import build_point, check_known_keys, register_configs
from recsim.core import loop
from recsim.core.validation import ConfigError, check_int, check_real
from recsim.ope import simulated


@dataclasses.dataclass
class DataConfig:
    name: str = "simulator"  # simulator | obd
    path: str | None = None  # obd: the directory holding random/ and bts/ (README)
    campaign: str = "all"  # obd: all | men | women


@dataclasses.dataclass
class OpeConfig:
    """Top level of `conf/ope.yaml`."""

    seed: int = 0
    seeds: int = 8  # replications: each its own world, logger and log
    steps: int = 1000  # rounds per replication = steps × env.users_per_step
    log_every: int = 50  # steps between the log sizes at which every estimate is kept
    progress: bool | None = None
    compilation_cache: str | None = None
    truth_draws: int = 8  # slates drawn from a stochastic target per round for its value
    switch_tau: float = 20.0  # switch-DR: importance weights above τ use the model only
    targets: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    env: Any = MISSING
    agent: Any = MISSING
    exploration: Any = MISSING  # the logging agent's strategy


@dataclasses.dataclass(frozen=True)
class Study:
    """A validated simulator study: the logging simulation with its off-policy record."""

    simulation: loop.Simulation
    params: loop.SimParams
    targets: tuple[simulated.Target, ...]
    config: OpeConfig
    resolved: dict[str, Any]  # the config as recorded (and hashed)


def register() -> None:
    register_configs()
    ConfigStore.instance().store(name="ope_schema", node=OpeConfig)


def build_targets(config: OpeConfig, spec) -> tuple[simulated.Target, ...]:
    """The target policies, each validated by its strategy's factory."""
    if not config.targets:
        raise ConfigError("targets: empty; give at least one, e.g. +targets.greedy.name=greedy")
    built = []
    for label, knobs in config.targets.items():
        if dataclasses.is_dataclass(knobs):  # `${exploration}`: a strategy's schema
            knobs = dataclasses.asdict(knobs)
        knobs = dict(knobs or {})
        name = knobs.pop("name", None)
        if name == simulated.ORACLE:
            if knobs:
                raise ConfigError(f"targets.{label}: the oracle has no knobs ({', '.join(knobs)})")
            built.append(simulated.Target(label, None))
            continue
        if name not in explorations.REGISTRY:
            choices = ", ".join([simulated.ORACLE, *explorations.REGISTRY])
            raise ConfigError(f"targets.{label}.name={name}: no such policy; choose one of "
                              f"{choices}")  # fmt: skip
        entry = explorations.REGISTRY.get(name, f"targets.{label}.name")
        fields = {field.name for field in dataclasses.fields(entry.config_class)}
        unknown = sorted(set(knobs) - fields)
        if unknown:
            raise ConfigError(f"targets.{label}.{unknown[0]}: unknown key for {name}; the keys "
                              f"are {', '.join(sorted(fields - {'name'})) or 'none'}")  # fmt: skip
        strategy_config = entry.config_class(name=name, **knobs)
        strategy_config.validate(f"targets.{label}", spec.slate_size)
        exploration, params = entry.make(strategy_config, spec)
        if exploration.propensity is None:
            raise ConfigError(
                f"targets.{label}.name={name}: states no propensity (its randomness is the "
                "model's posterior draw); choose another"
            )
        built.append(simulated.Target(label, exploration, params))
    return tuple(built)


def validate(config: OpeConfig) -> None:
    check_int("seed", config.seed, 0, 2**32 - 1)
    check_int("seeds", config.seeds, 2)  # the errors are taken over seeds
    check_int("steps", config.steps, 1)
    check_int("log_every", config.log_every, 1, config.steps, "steps")
    if config.steps % config.log_every:
        raise ConfigError(f"steps={config.steps} must be a multiple of log_every="
                          f"{config.log_every}")  # fmt: skip
    check_int("truth_draws", config.truth_draws, 1)
    check_real("switch_tau", config.switch_tau, 0.0)
    if config.data.name not in ("simulator", "obd"):
        raise ConfigError(f"data.name={config.data.name}: choose simulator or obd")


def build_study(cfg: DictConfig) -> Study:
    """Validates the composed config and builds the logging simulation with its record."""
    check_known_keys(cfg)
    config: OpeConfig = OmegaConf.to_object(cfg)
    validate(config)
    env, env_params, agent, agent_params = build_point(config)
    if not agent.explores:
        raise ConfigError(f"agent={config.agent.name}: the logging policy must be a learning "
                          "agent with an exploration strategy (neural, linucb, lints); a uniform "
                          "logger is exploration=random")  # fmt: skip
    spec = env.spec
    targets = build_targets(config, spec)
    thompson = [f"exploration={config.exploration.name}"] * (config.exploration.name == "thompson")
    thompson += [f"targets.{t.name}" for t in targets if t.exploration is not None
                 and t.exploration.name == "thompson"]  # fmt: skip
    if thompson and not isinstance(agent, NeuralAgent):  # the agent with members
        raise ConfigError(f"{thompson[0]}: thompson's propensity is exact only over an "
                          f"ensemble's members, and agent={config.agent.name} has none; use "
                          "agent=neural")  # fmt: skip
    knobs = OmegaConf.to_container(cfg.exploration, resolve=True)
    pseudo_inverse = simulated.logger_pseudo_inverse(
        config.exploration.name, spec.n_items, spec.slate_size, knobs
    )

    def record(key, transition, params):
        logger = simulated.Target("logger", agent.exploration, params.agent.exploration)
        return simulated.round_terms(
            key, transition, env, params.env, logger, targets, pseudo_inverse,
            config.switch_tau, config.truth_draws,
        )  # fmt: skip

    n_windows = config.steps // config.log_every
    simulation = loop.Simulation(env, agent, config.log_every,
                                 loop.windows_per_chunk(n_windows), record)  # fmt: skip
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for how_not_what in ("progress", "compilation_cache"):
        resolved.pop(how_not_what, None)
    return Study(simulation, loop.SimParams(env_params, agent_params), targets, config, resolved)
