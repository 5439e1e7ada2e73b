"""Exploration strategies. `REGISTRY` maps a strategy's name to its `Entry` (config class,
`make(config, spec) -> (Exploration, params)`); the contract is in `agents.exploration.base`.

A new strategy is one module here (config, params, `select`, `make`), one `Entry.of` line
below and one YAML in `conf/exploration/`.
"""

from agents.exploration import (
    boltzmann,
    diversity,
    epsilon_greedy,
    greedy,
    thompson,
    ucb,
    uncertainty,
    uniform,
)
from agents.exploration.base import Exploration, NoParams, Scores, Select
from recsim.core.registry import Entry, Registry

REGISTRY = Registry(
    "exploration",
    [
        Entry.of(greedy.GreedyConfig, greedy.make),
        Entry.of(uniform.UniformConfig, uniform.make),
        Entry.of(epsilon_greedy.EpsilonGreedyConfig, epsilon_greedy.make),
        Entry.of(diversity.DiversityConfig, diversity.make),
        Entry.of(uncertainty.UncertaintyConfig, uncertainty.make),
        Entry.of(boltzmann.BoltzmannConfig, boltzmann.make),
        Entry.of(ucb.UCBConfig, ucb.make),
        Entry.of(thompson.ThompsonConfig, thompson.make),
    ],
)

__all__ = ["REGISTRY", "Exploration", "NoParams", "Scores", "Select"]
