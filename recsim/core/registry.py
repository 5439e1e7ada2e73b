"""Registries of one shape for every family (environments, response models, agents,
exploration strategies): a name maps to an `Entry` of its config class and its factory.

Hydra chooses the name (`env=latent`, `agent=neural`, `exploration=ucb`, `env.click_model=dcm`);
the library looks it up here and calls `entry.make`. Pure Python: no JAX, no Hydra.

    REGISTRY = Registry("exploration", [Entry.of(UCBConfig, ucb.make), ...])
    strategy, params = REGISTRY.get(config.name, "exploration.name").make(config, spec)

A name is written once: `Entry.of` reads it from the `name` default of the config class (the
Hydra schema, so the YAML of the group need not repeat it).
"""

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from recsim.core.validation import ConfigError


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    name          what Hydra's config group option and the config's `name` field are called
    config_class  its config dataclass (the Hydra schema); None where its knobs live in the
                  config of what holds it (a response model reads `env.continuation`, …)
    make          its factory, `make(config, spec) -> (component, traced params)`, the config
                  validated inside, once (an environment, which defines the spec, takes only
                  `make(config)`)
    """

    name: str
    config_class: type | None
    make: Callable[..., Any]

    @classmethod
    def of(cls, config_class: type, make: Callable[..., Any]) -> "Entry":
        """The entry of a config class whose `name` field defaults to the component's name."""
        name = getattr(config_class, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{config_class.__name__}.name must default to the component's name")
        return cls(name, config_class, make)


class Registry:
    """Name -> `Entry`, in registration order. Read like a mapping (`names()`, `in`, `[name]`,
    iteration over the names, `items()`, `values()`); `get(name, key)` is the checked look-up
    of a config value."""

    def __init__(self, family: str, entries: Iterable[Entry]):
        self.family = family
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"{family} registry: {entry.name!r} is registered twice")
            self._entries[entry.name] = entry

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def get(self, name: str, key: str) -> Entry:
        """The entry called `name`, the value of config key `key`; a `ConfigError` naming the
        key, the value and the allowed names if there is none."""
        if name not in self._entries:
            raise ConfigError(f"{key}={name!r} must be one of {self.names()}")
        return self._entries[name]

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {list(self._entries)})"
