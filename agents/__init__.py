"""Recommenders. `REGISTRY` maps a config name to (config class, factory).

Every factory is `make(config, spec, exploration) -> (agent, params)`, with `exploration` the
(strategy, strategy params) pair built from the `exploration` config group; baselines that do
not explore ignore it.
"""

from agents import best_fixed, linear, neural, oracle, popularity, random_slate

REGISTRY = {
    "neural": (neural.NeuralConfig, neural.make),
    "linucb": (linear.LinearConfig, linear.make),
    "lints": (linear.LinearConfig, linear.make),
    "oracle": (oracle.OracleConfig, oracle.make),
    "best_fixed": (best_fixed.BestFixedConfig, best_fixed.make),
    "random": (random_slate.RandomConfig, random_slate.make),
    "popularity": (popularity.PopularityConfig, popularity.make),
    "popularity_clicks": (popularity.PopularityClicksConfig, popularity.make_clicks),
}

BASELINES = ("oracle", "best_fixed", "random", "popularity", "popularity_clicks")
"""Agents that compose no exploration strategy (they ignore the `exploration` group)."""


def explores(agent) -> bool:
    """Whether an agent composes an exploration strategy (the baselines do not)."""
    return hasattr(agent, "exploration")
