"""`loop.rollout` replays `loop.run`: the same slates and clicks for every agent and strategy.

The two are different compiled programs (`run` is vmapped over seeds and reduces metrics;
`rollout` keeps every transition of one seed), so their floating-point rounding may differ in
the last bit. No agent may leave a choice to that rounding — e.g. exactly tied scores that
each program computes with different rounding and `top_k` then orders differently.
"""

import jax
import numpy as np
import pytest

import agents
from agents import exploration as explorations
from envs.latent import LatentConfig, make
from recsim.core import loop
from tests.conftest import make_agent, simulation, small_env


def replay_run_and_rollout(sim, params, steps=30):
    """Clicks per window [W] and exposure [N, k] of one seed, from `loop.run`'s compiled
    program and from `loop.rollout`: ((run_clicks, run_exposure), (rollout_clicks,
    rollout_exposure)). `run`'s final carry is read by running its compiled chunks. (30 steps:
    on the small env, the rollout program of tests/test_agents.py and tests/test_loop.py, which
    the compilation cache then supplies.)"""
    compiled = loop.compile_run(sim, params, master_seed=3, seeds=[4], steps=steps)
    carry = compiled.init(compiled.master, compiled.seed_ids, compiled.params)
    run_clicks = []
    for index in range(compiled.n_chunks):
        t = jax.numpy.int32(index * compiled.steps_per_chunk)
        carry, rows, _ = compiled.chunk(carry, compiled.params, t)
        run_clicks.append(np.asarray(rows["clicks"][0]))
    run_clicks = np.concatenate(run_clicks)
    _, transitions = loop.rollout(sim, params, master_seed=3, seed=4, steps=steps)
    slates = np.asarray(transitions.slates)  # [T, U, k]
    exposure = np.zeros(np.asarray(carry.totals.exposure).shape[1:], int)  # [N, k]
    for position in range(slates.shape[-1]):
        np.add.at(exposure[:, position], slates[..., position].ravel(), 1)
    clicks = np.asarray(transitions.feedback.clicks).reshape(run_clicks.size, -1).sum(axis=1)
    return (run_clicks, np.asarray(carry.totals.exposure[0])), (clicks, exposure)


def explorer(agent_name, strategy_name, env=None):
    """(Simulation, SimParams) of a learning agent with a chosen strategy, on the small env
    unless `env` (env, env params) is given."""
    env, env_params = env or small_env()
    agent, agent_params = make_agent(agent_name, env.spec, strategy_name)
    sim = loop.Simulation(env, agent, log_every=5, windows_per_chunk=2)
    return sim, loop.SimParams(env_params, agent_params)


def assert_same_trajectory(sim, params):
    (run_clicks, run_exposure), (rollout_clicks, rollout_exposure) = replay_run_and_rollout(
        sim, params
    )
    np.testing.assert_array_equal(rollout_clicks, run_clicks)
    # Exposure counts every (item, position) shown: equal only if the slates were.
    np.testing.assert_array_equal(rollout_exposure, run_exposure)


@pytest.mark.parametrize("agent", sorted(agents.REGISTRY))
def test_rollout_replays_run_for_every_agent(agent):
    """`run` (vmapped over seeds) and `rollout` (one seed) are different compiled programs;
    they must show the same slates, so no agent may leave a choice to round-off (e.g.
    exactly tied scores computed with different rounding in each program)."""
    assert_same_trajectory(*simulation(agent, log_every=5, windows_per_chunk=2))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(explorations.REGISTRY))
def test_rollout_replays_run_for_every_exploration_strategy(strategy):
    """With LinUCB, whose prior scores tie exactly (the neural agent's random initialisation
    leaves no exact ties; its default strategy is covered above)."""
    assert_same_trajectory(*explorer("linucb", strategy))


@pytest.mark.slow
def test_rollout_replays_run_for_linucb_on_the_default_world():
    """The case of issue 10, item 2: at these sizes the tied prior scores of unseen items were
    rounded differently in the two programs, and users saw different slates from step 0."""
    assert_same_trajectory(*explorer("linucb", "ucb", env=make(LatentConfig())))
