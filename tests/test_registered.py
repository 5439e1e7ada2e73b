"""Every registered component passes the reusable contract checks (`recsim.testing`): every
response model and every world dynamics of every env, every agent, every exploration strategy.
Registering a new one puts it here without a test table to edit."""

import pytest

import agents
import envs
from agents import exploration as explorations
from envs.response import REGISTRY as RESPONSE_MODELS
from recsim.testing import check_agent, check_env
from tests.conftest import make_agent, small_env

ALL_DYNAMICS = dict(  # every world mechanism on at once (one compile; each is off by default
    drift_rate=0.05,  # but boredom)
    boredom_penalty=0.2,
    item_churn_rate=0.2,
    item_churn_every=1,
    patience=1.0,
)


def test_every_env_has_its_cases_and_they_cover_every_response_model():
    # latent's cases are below; the real-data worlds' (they need data files) are in
    # tests/test_real_worlds.py: every response model, every dynamics at once
    assert envs.REGISTRY.names() == ("latent", "movielens", "kuairec")
    assert len(RESPONSE_MODELS) == 4


@pytest.mark.parametrize("click_model", RESPONSE_MODELS.names())
def test_every_response_model(click_model):
    env, params = small_env(click_model=click_model)
    check_env(env, params)


def test_every_dynamics_at_once():
    env, params = small_env(**ALL_DYNAMICS)
    check_env(env, params, steps=3)


@pytest.mark.parametrize("name", agents.REGISTRY.names())
def test_every_agent(name):
    env, _ = small_env()
    agent, params = make_agent(name, env.spec)
    check_agent(agent, params, env.spec)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", explorations.REGISTRY.names())
def test_every_strategy(strategy):
    """With the neural agent (the linear agents run every strategy in
    `tests/test_rollout_replay.py`)."""
    env, _ = small_env()
    agent, params = make_agent("neural", env.spec, strategy)
    check_agent(agent, params, env.spec)
