"""Simulated users. `REGISTRY` maps an environment's name to its `Entry`
(`recsim.core.registry`): config class and `make(config) -> (env, params)`, the config
validated inside. An environment defines the `EnvSpec` that everything else is built for,
so its factory is the one that takes no spec.

A new environment is one module (config with `name` defaulting to its name, env class,
`make`), one `Entry.of` line below and one YAML in `conf/env/`.
"""

from envs import kuairec, latent, movielens
from envs.latent_config import LatentConfig
from envs.table_config import KuaiRecConfig, MovieLensConfig
from recsim.core.registry import Entry, Registry

REGISTRY = Registry(
    "env",
    [
        Entry.of(LatentConfig, latent.make),
        Entry.of(MovieLensConfig, movielens.make),
        Entry.of(KuaiRecConfig, kuairec.make),
    ],
)

__all__ = ["REGISTRY"]
