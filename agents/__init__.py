"""Recommenders. `REGISTRY` maps a config name to (config class, factory(config, spec))."""

from agents import oracle, popularity, random_slate

REGISTRY = {
    "oracle": (oracle.OracleConfig, oracle.make),
    "random": (random_slate.RandomConfig, random_slate.make),
    "popularity": (popularity.PopularityConfig, popularity.make),
}
