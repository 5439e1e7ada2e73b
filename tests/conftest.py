"""Shared small configurations: big enough to be meaningful, small enough to compile fast."""

import dataclasses

import pytest

import agents
from agents import exploration as explorations
from envs.latent import LatentConfig, make
from recsim.core import loop

SMALL_ENV = dict(
    n_items=30,
    n_users=100,
    n_topics=4,
    latent_dim=8,
    item_feature_dim=4,
    user_feature_dim=4,
    slate_size=3,
    users_per_step=8,
)


def small_env(**overrides):
    """A small `latent` env and its params; `overrides` replace config fields."""
    return make(dataclasses.replace(LatentConfig(**SMALL_ENV), **overrides))


DEFAULT_EXPLORATION = {"neural": "epsilon_greedy", "linucb": "ucb", "lints": "thompson"}


def make_agent(agent_name: str, spec, strategy_name: str | None = None, config=None):
    """(agent, params) of a registered agent (its default config unless `config`) for `spec`,
    with a registered strategy in its default config composed in (the agent's default
    strategy, or greedy, unless `strategy_name`), as `experiments.config.build_point` does."""
    entry = agents.REGISTRY[agent_name]
    strategy_name = strategy_name or DEFAULT_EXPLORATION.get(agent_name, "greedy")
    strategy = explorations.REGISTRY[strategy_name]
    return agents.with_exploration(
        entry.make(config or entry.config_class(), spec),
        strategy.make(strategy.config_class(), spec),
    )


def simulation(agent_name: str, log_every=5, windows_per_chunk=2, **env_overrides):
    """(Simulation, SimParams) for a registered agent on the small env."""
    env, env_params = small_env(**env_overrides)
    agent, agent_params = make_agent(agent_name, env.spec)
    sim = loop.Simulation(env, agent, log_every=log_every, windows_per_chunk=windows_per_chunk)
    return sim, loop.SimParams(env_params, agent_params)


@pytest.fixture
def static_world():
    """Overrides that switch off drift and boredom: the click model alone."""
    return dict(drift_rate=0.0, boredom_penalty=0.0)


def at_step(obs, step):
    """`obs` as the loop would give it at step `step` of a world without item churn: every item
    is as old as the run (so no agent mistakes it for a fresh item)."""
    import jax.numpy as jnp

    return obs.replace(step=jnp.int32(step), item_age=jnp.full_like(obs.item_age, step))


def pytest_configure(config):
    """Tests share compiled programs through JAX's persistent compilation cache, in a fresh
    directory per test session (identical programs in different tests compile once)."""
    import os
    import tempfile

    import jax

    if os.environ.get("RECSIM_TEST_NO_CACHE"):
        return
    directory = tempfile.mkdtemp(prefix="recsim-test-jax-cache-")
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
