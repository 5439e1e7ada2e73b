"""Structured configs (Hydra's ConfigStore) and building an `Experiment` from a config.

Types and unknown keys are caught by the structured configs when Hydra composes, and keys
added with `+` that no schema has by `check_known_keys`; ranges and cross-field rules by
`validate_run` and, once, by each registered factory (env, agent, exploration strategy),
before anything is compiled.
"""

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

import agents
import envs
from agents import exploration as explorations
from agents.exploration import switch
from experiments import grid as gridlib
from recsim.core import loop, shared
from recsim.core.validation import ConfigError, check_int
from recsim.runs import interactions

if TYPE_CHECKING:  # imported where used: it brings pandas, scipy and matplotlib, which a
    # usage error of `experiments.run` (reported before anything runs) does not need
    from recsim.runs.experiment import Experiment


@dataclasses.dataclass
class LogConfig:
    """`log.*`: what a run writes besides its metrics."""

    interactions: bool = False  # every visit, with propensities: RUN_DIR/interactions/*.parquet


@dataclasses.dataclass
class RunConfig:
    """Top level of `conf/config.yaml`."""

    seed: int = 0  # master seed
    seeds: int = 8  # number of simulations (seed numbers 0..seeds-1)
    steps: int = 2000  # horizon, a multiple of log_every
    log_every: int = 50  # steps per logged row
    progress: bool | None = None  # progress bar; None: only when stderr is a terminal
    compilation_cache: str | None = None  # JAX persistent compilation cache dir; None: off
    overwrite: bool = False  # a single run may replace another config's result in its dir
    baseline: str | None = None  # KEY=VALUE: a sweep's compare.csv pairs configs with it
    checkpoint_every: int = 0  # chunks between checkpoints of the run's state (0: none)
    resume: bool = False  # continue this configuration's latest checkpointed run
    figures: bool = True  # draw the run's curves.png (false: numbers only)
    env: Any = MISSING
    agent: Any = MISSING
    exploration: Any = MISSING  # used by learning agents; baselines ignore it
    grid: gridlib.GridConfig = dataclasses.field(default_factory=gridlib.GridConfig)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)


NOT_HASHED = ("progress", "compilation_cache", "overwrite", "baseline", "checkpoint_every",
              "resume", "figures")  # fmt: skip
"""Top-level keys that say how a run is done or shown, not what it computes: left out of the
recorded config and its hash (a checkpointed or resumed run is the same result)."""

NOT_HASHED_ENV = ("fit_cache",)
"""Env keys of the same kind: where a fit is cached changes no number (`run.json`'s
`world_data` names the fit that was read)."""


def register_configs() -> None:
    """Stores the schemas: `run_schema`, and each group's under `schema/<group>/<name>` (out of
    the selectable options of the group: `agent=neural_schema` is no choice)."""
    OmegaConf.register_new_resolver("run_label", run_label, replace=True)
    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig)
    groups = (
        ("env", envs.REGISTRY),
        ("agent", agents.REGISTRY),
        ("exploration", explorations.REGISTRY),
    )
    for group, registry in groups:
        for name, entry in registry.items():
            store.store(group=f"schema/{group}", name=name, node=entry.config_class)


def run_label(env: str, agent: str, exploration: str, strategies: Any = None) -> str:
    """`env-agent-strategy` for a learning agent, `env-agent-strategies` for one on the
    strategy axis (`strategies`: `grid.exploration.name`), `env-agent` for a baseline (it
    ignores the strategy): the run directory's name (`${run_label:…}` in conf/config.yaml)."""
    if agent in agents.BASELINES:
        return f"{env}-{agent}"
    return f"{env}-{agent}-{'strategies' if strategies else exploration}"


def enable_compilation_cache(path: str | None) -> None:
    """Turns on JAX's persistent compilation cache in `path` (jobs with the same program then
    load it instead of compiling again)."""
    if not path:
        return
    import jax

    directory = Path(path).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def check_known_keys(cfg: DictConfig, path: str = "") -> None:
    """Refuses a key that its node's schema lacks (Hydra lets `+key=value` add one to a
    structured config; it would be recorded, hashed and never used)."""
    schema = OmegaConf.get_type(cfg)
    if dataclasses.is_dataclass(schema):
        fields = [field.name for field in dataclasses.fields(schema)]
        for key in cfg:
            if key not in fields:
                raise ConfigError(
                    f"{path}{key}: unknown key (not in {schema.__name__}); the keys are "
                    f"{', '.join(fields)}"
                )
    for key in cfg:
        child = cfg._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            check_known_keys(child, f"{path}{key}.")


def validate_run(config: RunConfig) -> None:
    check_int("seed", config.seed, 0, 2**32 - 1)
    check_int("seeds", config.seeds, 1)
    check_int("steps", config.steps, 1)
    check_int("log_every", config.log_every, 1, config.steps, "steps")
    if config.steps % config.log_every:
        raise ConfigError(
            f"steps={config.steps} must be a multiple of log_every={config.log_every}"
        )
    if config.baseline is not None:
        key, sep, value = config.baseline.partition("=")
        if not (sep and key and value):
            raise ConfigError(f"baseline={config.baseline} is not KEY=VALUE, e.g. "
                              "baseline='exploration=greedy' (quoted for Hydra)")  # fmt: skip


def build_point(config: RunConfig) -> tuple[Any, Any, Any, Any]:
    """(env, env params, agent, agent params) of one config, each part validated by its
    factory. The strategy is built (and so validated) for every agent, and composed into the
    learning agents (`agents.with_exploration`); baselines ignore it."""
    env, env_params = envs.REGISTRY.get(config.env.name, "env.name").make(config.env)
    strategy_entry = explorations.REGISTRY.get(config.exploration.name, "exploration.name")
    exploration = strategy_entry.make(config.exploration, env.spec)
    agent_entry = agents.REGISTRY.get(config.agent.name, "agent.name")
    agent, agent_params = agents.with_exploration(
        agent_entry.make(config.agent, env.spec), exploration
    )
    return env, env_params, agent, agent_params


def build_grid(config: RunConfig, env, agent) -> tuple[list[dict[str, Any]], list[Any], Any]:
    """Grid points, their params and the agent that runs them (with the strategy axis, the
    agent holds `switch` of the listed strategies); refuses axes that change the static
    program."""
    axes = gridlib.axes(config.grid)
    data = shared.digests(build_point(config)[1]) if axes else []  # the world data read
    for path, values in axes:
        if path.startswith("exploration.") and not agent.explores:
            raise ConfigError(f"grid.{path}: agent={config.agent.name} does not explore")
        if path == gridlib.STRATEGY_AXIS:
            continue
        if path.startswith("exploration.") and gridlib.STRATEGY_AXIS in dict(axes):
            raise ConfigError(
                f"grid.{path} with grid.{gridlib.STRATEGY_AXIS}: on the strategy axis each "
                f"strategy keeps its configured knobs; sweep {path} with --multirun"
            )
        for value in values:
            point_env, env_params, point_agent, _ = build_point(
                gridlib.apply(config, {path: value})
            )
            if point_env != env or point_agent != agent:
                raise gridlib.structure_error(path, values, "changes shapes or code")
            if shared.digests(env_params) != data:
                raise gridlib.structure_error(path, values, "changes the world data")
    names = dict(axes).get(gridlib.STRATEGY_AXIS)
    points = gridlib.points(axes) or [{}]
    strategies = None
    if names is not None:  # simulations are grid-point major (`Experiment.batched_params`)
        index_of_point = [names.index(point[gridlib.STRATEGY_AXIS]) for point in points]
        layout = [i for i in index_of_point for _ in range(config.seeds)]
        strategies = switched_strategies(config, env.spec, names, layout)
    params = []
    for g, point in enumerate(points):
        rest = {path: v for path, v in point.items() if path != gridlib.STRATEGY_AXIS}
        _, env_params, point_agent, agent_params = build_point(gridlib.apply(config, rest))
        if strategies is not None:  # the same switched agent at every point
            strategy, members = strategies
            which = jnp.int32(index_of_point[g])
            agent, agent_params = agents.with_exploration(
                (point_agent, agent_params), (strategy, switch.SwitchParams(which, members))
            )
        params.append(loop.SimParams(env=env_params, agent=agent_params))
    return points, params, agent


def switched_strategies(
    config: RunConfig, spec, names: list[Any], layout: list[int] | None = None
) -> tuple[Any, tuple]:
    """(`switch` of the strategies `names`, their params in that order). The strategy the
    config selects (`exploration=…`) takes the config's knobs; the others their defaults (the
    options in conf/exploration/ set none). Each is validated by its factory. `layout`: the
    strategy index of each simulation (`switch`: each strategy then runs on its own)."""
    if len(set(names)) != len(names):
        raise ConfigError(f"grid.{gridlib.STRATEGY_AXIS}={names} lists a strategy twice")
    built = []
    for name in names:
        entry = explorations.REGISTRY.get(str(name), f"grid.{gridlib.STRATEGY_AXIS}")
        own = config.exploration if config.exploration.name == name else entry.config_class()
        built.append(entry.make(own, spec))
    return switch.switch([s for s, _ in built], layout), tuple(p for _, p in built)


def grid_baseline(baseline: str | None, points: list[dict[str, Any]]) -> str | None:
    """`baseline` when it names a grid axis' column (`KEY=VALUE`, e.g. exploration=greedy on
    the strategy axis): the run then writes its own compare.csv. None when it names none (it
    is then a sweep's: `--multirun`). A value the axis lacks is refused."""
    if baseline is None:
        return None
    key, _, value = baseline.partition("=")
    columns = {gridlib.column(path): path for path in points[0]}
    if key not in columns:
        return None
    values = [str(point[columns[key]]) for point in points]
    if value not in values:
        raise ConfigError(f"baseline={baseline}: {value} is not on the grid axis {key} "
                          f"({', '.join(dict.fromkeys(values))})")  # fmt: skip
    return baseline


def build_experiment(cfg: DictConfig) -> "Experiment":
    """Validates the composed config and builds env, agent, grid and the compiled-loop plan."""
    check_known_keys(cfg)
    config: RunConfig = OmegaConf.to_object(cfg)
    validate_run(config)
    env, _, agent, _ = build_point(config)
    points, params, agent = build_grid(config, env, agent)
    n_windows = config.steps // config.log_every
    simulation = loop.Simulation(
        env=env,
        agent=agent,
        log_every=config.log_every,
        windows_per_chunk=loop.windows_per_chunk(n_windows),
        record=interactions.record if config.log.interactions else None,
    )
    n_chunks = n_windows // simulation.windows_per_chunk
    steps_per_chunk = simulation.windows_per_chunk * config.log_every
    check_int("checkpoint_every", config.checkpoint_every, 0, max(n_chunks - 1, 0),
              f"this run has {n_chunks} chunks of {steps_per_chunk} steps; 0: off")  # fmt: skip
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for how_not_what in NOT_HASHED:
        resolved.pop(how_not_what, None)
    for how_not_what in NOT_HASHED_ENV:
        resolved["env"].pop(how_not_what, None)
    resolved["grid"] = {path: values for path, values in gridlib.axes(config.grid)}
    title = f"env={config.env.name} agent={config.agent.name}"
    names = resolved["grid"].get(gridlib.STRATEGY_AXIS)
    if agent.explores:
        title += f" exploration={config.exploration.name if names is None else names}"
    else:
        resolved["exploration"] = None  # ignored: must not change the config hash
    from recsim.runs.experiment import Experiment  # see the TYPE_CHECKING import above

    return Experiment(
        simulation=simulation,
        params=gridlib.stack(params),
        master_seed=config.seed,
        seeds=tuple(range(config.seeds)),
        steps=config.steps,
        config=resolved,
        grid=tuple({gridlib.column(p): value for p, value in point.items()} for point in points),
        title=title,
        baseline=grid_baseline(config.baseline, points),
        checkpoint_every=config.checkpoint_every,
        figures=config.figures,
    )
