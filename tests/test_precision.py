"""The world and the metrics multiply matrices in full float32 on every backend
(`recsim.core.precision`): every matrix product of a program whose agent has no network is
`HIGHEST`; the neural agent's own products keep the backend's default (TF32 on recent NVIDIA
GPUs)."""

import re

import jax
import jax.numpy as jnp
import pytest

from recsim.core import loop, shared
from tests.conftest import simulation, small_env

PRECISION = re.compile(r"stablehlo\.dot_general .*?precision = \[(\w+), (\w+)\]")


def dot_precisions(agent_name: str, **env_overrides) -> list[tuple[str, str]]:
    """(lhs, rhs) precision of every matrix product in the run's init and chunk programs, as
    lowered (before XLA rewrites small products into other operations)."""
    sim, params = simulation(agent_name, **env_overrides)
    params = loop.batch_params(params, 2)
    init = jax.jit(jax.vmap(sim.init, in_axes=(None, 0, shared.axes(params))))
    traced = init.trace(jax.random.key(0), jnp.arange(2, dtype=jnp.int32), params)
    chunk = jax.jit(sim.chunk).trace(traced.out_info, params, jnp.int32(0))
    text = traced.lower().as_text() + chunk.lower().as_text()
    return [match.groups() for match in PRECISION.finditer(text)]


@pytest.mark.parametrize("click_model", ["mnl", "cascade"])
def test_every_product_of_the_world_and_the_metrics_is_full_float32(click_model):
    """The random agent has no network: every product in its programs is the world's (truth,
    clicks, drift, population attraction) or the metrics' (group sums, diversity, overlap)."""
    precisions = dot_precisions("random", click_model=click_model)
    assert len(precisions) >= 5  # a program without products would prove nothing
    assert set(precisions) == {("HIGHEST", "HIGHEST")}


def test_the_networks_keep_the_backends_default():
    precisions = dot_precisions("neural")
    assert ("HIGHEST", "HIGHEST") in precisions and ("DEFAULT", "DEFAULT") in precisions


def test_the_world_is_full_float32_when_called_directly():
    """Outside the loop too (a test, a notebook): the env's own methods are `exact`."""
    env, params = small_env()
    key = jax.random.key(0)
    state = env.init(key, params)
    obs = env.observe(key, state, params)
    lowered = [
        jax.jit(env.init).lower(key, params),
        jax.jit(env.truth).lower(state, obs, params),
        jax.jit(env.population_attraction).lower(state, params),
    ]
    precisions = [m.groups() for p in lowered for m in PRECISION.finditer(p.as_text())]
    assert len(precisions) >= 3 and set(precisions) == {("HIGHEST", "HIGHEST")}
