"""The compiled loop: trace and compile once, determinism, batching and chunking invariance,
CRN."""

import dataclasses

import jax
import numpy as np

from recsim.core import loop
from tests.conftest import SEEDS, simulation


def run(agent="popularity", seeds=(0, 1), steps=40, **kwargs):
    sim, params = simulation(agent, **kwargs)
    return loop.run(sim, params, master_seed=7, seeds=seeds, steps=steps)


def test_chunk_function_is_traced_once_over_many_chunks():
    result = run(steps=40, log_every=5, windows_per_chunk=2)  # 4 chunks
    assert result.traces == 1
    assert result.compiles == {"init": 1, "chunk": 1, "run": 0}  # measured by JAX's events
    assert result.rows["ctr"].shape == (2, 8)
    # a window: log_every 5 steps × 8 users per step × 3 slots = 120 impressions
    np.testing.assert_array_equal(result.rows["impressions"], np.full((2, 8), 5 * 8 * 3))
    np.testing.assert_allclose(result.rows["ctr"], result.rows["clicks"] / 120, rtol=1e-6)


def test_count_compiles_sees_each_xla_compilation_and_no_cache_hit_of_this_process():
    def double(x):
        return 2 * x

    with loop.count_compiles() as counts:
        jax.jit(double)(np.zeros(3))  # numpy inputs: making them compiles nothing
        jax.jit(double)(np.zeros(3))  # same function and shape: the in-memory cache
        jax.jit(double)(np.zeros(4))  # a new shape: compiled again
    assert counts["compiles"] == 2


def test_a_chunk_compiled_again_during_the_run_is_counted():
    """The count is measured, not asserted: a chunk jitted anew for every chunk (a classic
    regression) shows up as one compilation per chunk while running."""
    sim, params = simulation("popularity")
    compiled = loop.compile_run(sim, params, master_seed=7, seeds=[0, 1], steps=20)
    assert compiled.n_chunks == 2

    def chunk_jitted_in_the_loop(carry, params, t):
        return jax.jit(lambda *args: sim.chunk(*args))(carry, params, t)

    healthy = compiled.execute()
    recompiling = dataclasses.replace(compiled, chunk=chunk_jitted_in_the_loop).execute()
    assert healthy.compiles == {"init": 1, "chunk": 1, "run": 0}
    assert recompiling.compiles == {"init": 1, "chunk": 1, "run": 2}
    np.testing.assert_array_equal(healthy.rows["clicks"], recompiling.rows["clicks"])


def test_init_runs_once_per_execution_and_compiling_runs_nothing(monkeypatch):
    """The chunk is lowered from init's abstract output: compile_run executes no program."""
    calls = []
    call = jax.stages.Compiled.__call__

    def counted_call(self, *args, **kwargs):
        calls.append(self)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(jax.stages.Compiled, "__call__", counted_call)
    sim, params = simulation("popularity")
    compiled = loop.compile_run(sim, params, master_seed=7, seeds=[0, 1], steps=20)
    assert calls == []
    compiled.execute()
    assert calls == [compiled.init, compiled.chunk, compiled.chunk]


def test_same_seed_gives_identical_rows_and_other_seeds_differ():
    first, second = run(), run()
    for name in first.rows:
        np.testing.assert_array_equal(first.rows[name], second.rows[name], err_msg=name)
    assert not np.array_equal(first.rows["clicks"][0], first.rows["clicks"][1])


def test_master_seed_changes_the_world():
    sim, params = simulation("random")
    a = loop.run(sim, params, master_seed=0, seeds=[0], steps=20)
    b = loop.run(sim, params, master_seed=1, seeds=[0], steps=20)
    assert not np.array_equal(a.rows["clicks"], b.rows["clicks"])


def test_a_seed_has_the_same_trajectory_alone_or_inside_a_batch():
    batch = run(seeds=SEEDS)  # seed 1 among 8: test_agents' popularity program
    alone = run(seeds=(1,))
    np.testing.assert_array_equal(batch.rows["clicks"][1], alone.rows["clicks"][0])
    for name in batch.rows:
        np.testing.assert_allclose(batch.rows[name][1], alone.rows[name][0], rtol=1e-5)


def test_chunking_does_not_change_the_trajectory():
    whole = run(steps=40, windows_per_chunk=8)
    pieces = run(steps=40, windows_per_chunk=1)
    np.testing.assert_array_equal(whole.rows["clicks"], pieces.rows["clicks"])


def test_common_random_numbers_across_agents(static_world):
    """Same seed: same world, same arriving users, same click noise for different agents."""
    steps = 200
    rollouts = {}
    for agent in ("random", "oracle"):
        sim, params = simulation(agent, **static_world)
        first_carry = sim.init(jax.random.key(3), 5, params)
        _, transitions = loop.rollout(sim, params, master_seed=3, seed=5, steps=steps)
        rollouts[agent] = (first_carry.env_state, transitions)
    (world_a, tr_a), (world_b, tr_b) = rollouts["random"], rollouts["oracle"]
    for leaf_a, leaf_b in zip(jax.tree.leaves(world_a), jax.tree.leaves(world_b), strict=True):
        np.testing.assert_array_equal(leaf_a, leaf_b)
    np.testing.assert_array_equal(tr_a.obs.user_ids, tr_b.obs.user_ids)
    # Where both agents showed the same item at the same position to the same user, the
    # click probability is the same (static world), and so is the click: shared uniforms.
    same_slot = np.asarray(tr_a.slates) == np.asarray(tr_b.slates)
    assert same_slot.sum() > 50
    clicks_a, clicks_b = np.asarray(tr_a.feedback.clicks), np.asarray(tr_b.feedback.clicks)
    np.testing.assert_array_equal(clicks_a[same_slot], clicks_b[same_slot])
    # ...and the two agents do see different slates elsewhere, so the check is not vacuous.
    assert (~same_slot).sum() > same_slot.sum()


def test_arrivals_do_not_depend_on_the_agent_even_with_drift_and_boredom():
    users = []
    for agent in ("random", "popularity"):
        sim, params = simulation(agent)
        _, transitions = loop.rollout(sim, params, master_seed=0, seed=2, steps=30)
        users.append(np.asarray(transitions.obs.user_ids))
    np.testing.assert_array_equal(*users)


def test_windows_per_chunk_divides_the_horizon():
    assert loop.windows_per_chunk(40) == 2
    assert loop.windows_per_chunk(37) == 37
    assert loop.windows_per_chunk(5) == 1
    for n in range(1, 200):
        d = loop.windows_per_chunk(n)
        assert n % d == 0 and n // d <= 20
