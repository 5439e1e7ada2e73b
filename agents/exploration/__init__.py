"""Exploration strategies. `REGISTRY` maps a config name to (config class, factory(config))."""

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
from agents.exploration.base import Exploration, Scores

REGISTRY = {
    "greedy": (greedy.GreedyConfig, greedy.make),
    "random": (uniform.RandomConfig, uniform.make),
    "epsilon_greedy": (epsilon_greedy.EpsilonGreedyConfig, epsilon_greedy.make),
    "diversity": (diversity.DiversityConfig, diversity.make),
    "uncertainty": (uncertainty.UncertaintyConfig, uncertainty.make),
    "boltzmann": (boltzmann.BoltzmannConfig, boltzmann.make),
    "ucb": (ucb.UCBConfig, ucb.make),
    "thompson": (thompson.ThompsonConfig, thompson.make),
}

__all__ = ["REGISTRY", "Exploration", "Scores"]
