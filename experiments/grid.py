"""In-graph grids (DESIGN.md §6): numeric knobs swept inside one compiled program.

`grid.<group>.<key>=[v1,v2,…]` (group: env, agent or exploration) makes `<group>.<key>` a grid
axis; several axes form their Cartesian product. Every grid point must build the very same
static program (env and agent objects compare equal): only traced params may differ, and they
are stacked along the simulation axis, which `vmap` runs in one compile. A grid over a field
that changes shapes or code is refused, pointing to `--multirun`. The one exception is the
strategy axis, `grid.exploration.name=[greedy,ucb,…]`: the strategy becomes a traced index
into all the listed strategies (`agents.exploration.switch`), so they too run in one program.
"""

import dataclasses
import itertools
from typing import Any

import agents
import envs
from agents import exploration as explorations
from recsim.core import shared
from recsim.core.validation import ConfigError

REGISTRIES = {"env": envs.REGISTRY, "agent": agents.REGISTRY, "exploration": explorations.REGISTRY}


STRATEGY_AXIS = "exploration.name"
"""The grid axis of strategies: `grid.exploration.name=[greedy,ucb,…]` runs every listed
strategy in one compiled program (`agents.exploration.switch`)."""

STRATEGY_COLUMN = "exploration"
"""The strategy axis' column in metrics.parquet, summary.csv and compare.csv: the name a
`--multirun` over `exploration=…` gives it, so every reader of results (figures, `compare`,
the notebooks) reads a one-program comparison and a sweep alike."""


def column(path: str) -> str:
    """The results column of grid axis `path`."""
    return STRATEGY_COLUMN if path == STRATEGY_AXIS else path


def _group_grid_class(group: str) -> type:
    """A dataclass with one optional list per key of any config in the group (and, for the
    exploration group, `name`: the strategy axis)."""
    names: dict[str, None] = {"name": None} if group == "exploration" else {}
    for entry in REGISTRIES[group].values():
        for field in dataclasses.fields(entry.config_class):
            if field.name != "name":
                names[field.name] = None
    fields = [(name, list[Any] | None, dataclasses.field(default=None)) for name in names]
    return dataclasses.make_dataclass(f"{group.capitalize()}Grid", fields)


EnvGrid = _group_grid_class("env")
AgentGrid = _group_grid_class("agent")
ExplorationGrid = _group_grid_class("exploration")


@dataclasses.dataclass
class GridConfig:
    """`grid.<group>.<key>`: the values of a grid axis (unset: not an axis)."""

    env: EnvGrid = dataclasses.field(default_factory=EnvGrid)  # type: ignore[valid-type]
    agent: AgentGrid = dataclasses.field(default_factory=AgentGrid)  # type: ignore[valid-type]
    exploration: ExplorationGrid = dataclasses.field(  # type: ignore[valid-type]
        default_factory=ExplorationGrid
    )


def axes(grid: Any) -> list[tuple[str, list[Any]]]:
    """[(\"group.key\", values)] of the set axes, in group then field order."""
    found = []
    for group in REGISTRIES:
        group_grid = getattr(grid, group)
        for field in dataclasses.fields(group_grid):
            values = getattr(group_grid, field.name)
            if values is None:
                continue
            path = f"{group}.{field.name}"
            if not values:
                raise ConfigError(f"grid.{path}=[] must list at least one value")
            if any(isinstance(v, list | tuple | dict) for v in values):
                raise ConfigError(
                    f"grid.{path}={list(values)}: grid values must be single numbers; "
                    f"sweep vectors with --multirun"
                )
            found.append((path, list(values)))
    return found


def points(grid_axes: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """The Cartesian product of the axes: one {path: value} per grid point."""
    paths = [path for path, _ in grid_axes]
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(
        *(values for _, values in grid_axes))]  # fmt: skip


def apply(config: Any, point: dict[str, Any]) -> Any:
    """The run config with the grid point's values in place (checked to exist)."""
    for path, value in point.items():
        group, key = path.split(".")
        group_config = getattr(config, group)
        if not any(f.name == key for f in dataclasses.fields(group_config)):
            keys = ", ".join(f.name for f in dataclasses.fields(group_config) if f.name != "name")
            raise ConfigError(
                f"grid.{path}: {group}={group_config.name} has no key {key!r} (its keys: {keys})"
            )
        config = dataclasses.replace(
            config, **{group: dataclasses.replace(group_config, **{key: value})}
        )
    return config


def structure_error(path: str, values: list[Any], reason: str) -> ConfigError:
    listed = ",".join(str(v) for v in values)
    return ConfigError(
        f"grid.{path}={values} {reason}: an in-graph grid can only sweep traced numbers; "
        f"sweep it with --multirun instead, e.g. `--multirun {path}={listed}`"
    )


def stack(trees: list[Any]) -> Any:
    """Stacks pytrees of identical structure along a new leading axis (world data once:
    `recsim.core.shared.stack`)."""
    return shared.stack(trees)
