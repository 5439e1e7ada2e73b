"""Runs that cannot fit the device are refused before they run, in one line naming the keys
that size them (`recsim.core.memory`, `recsim.runs.device_memory`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recsim.core import loop, memory
from recsim.runs import device_memory
from tests.conftest import simulation, small_env

ROOT = Path(__file__).resolve().parents[1]


def test_state_buffers_are_every_leaf_with_its_exact_size_largest_first():
    tree = {"a": jnp.zeros((3, 5), jnp.float32), "b": {"c": jax.ShapeDtypeStruct((7,), jnp.int8)}}
    buffers = memory.state_buffers(tree, "carry")
    assert [(b.where, b.shape, b.dtype, b.nbytes) for b in buffers] == [
        ("carry['a']", (3, 5), "float32", 60),
        ("carry['b']['c']", (7,), "int8", 7),
    ]


def make_big_inside_a_scan(x):
    def body(total, _):
        outer = x[:, None] * x[None, :]  # [n, n]: the largest intermediate
        return total + outer.sum(), None

    return jax.lax.scan(body, 0.0, None, length=2)[0]


def test_the_largest_intermediate_is_found_inside_nested_programs_with_its_line():
    traced = jax.jit(make_big_inside_a_scan).trace(jnp.ones(300))
    largest = memory.largest_intermediates(traced.jaxpr, count=1)[0]
    assert largest.shape == (300, 300) and largest.nbytes == 300 * 300 * 4
    assert "tests/test_memory.py" in largest.where and "make_big_inside_a_scan" in largest.where


def test_compiled_bytes_holds_at_least_the_arguments_and_outputs():
    compiled = jax.jit(lambda x: x * 2.0 + 1.0).lower(jnp.ones(1000)).compile()
    assert memory.compiled_bytes(compiled) >= 2 * 1000 * 4  # argument and output, not aliased


def test_human_bytes():
    assert [memory.human_bytes(n) for n in (512, 1536, 3 * 1024**3, 2.5 * 1024**4)] == [
        "512 B", "1.5 KiB", "3.0 GiB", "2.5 TiB",
    ]  # fmt: skip


def test_the_loop_shows_the_state_then_the_compiled_peak_before_running():
    sim, params = simulation("neural")
    seen = []
    result = loop.run(sim, params, 0, range(2), 20, check_memory=seen.append)
    assert [need.stage for need in seen] == ["state", "compiled"]
    state, compiled = seen
    batched = loop.batch_params(params, 2)
    carry = jax.eval_shape(jax.vmap(sim.init, in_axes=(None, 0, 0)),
                           jax.random.key(0), jnp.arange(2), batched)  # fmt: skip
    expected = sum(
        int(np.prod(leaf.shape)) * leaf.dtype.itemsize
        for leaf in jax.tree.leaves((carry, batched))
        if not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    )
    assert state.nbytes == expected
    assert compiled.nbytes >= state.nbytes  # the chunk's arguments are the state
    assert result.memory_bytes == {"state": state.nbytes, "compiled": compiled.nbytes}


def test_a_need_beyond_the_device_is_refused_naming_the_keys_that_size_it():
    config = {"seeds": 8, "steps": 2000, "env": {"n_users": 100000, "n_items": 1000000}}
    big = memory.Buffer(
        "made at envs/latent.py:154 (f)", (8, 100000, 1000000), "float32", 3 * 2**40
    )
    need = memory.MemoryNeed("compiled", 3 * 2**40, (big,))
    check = device_memory.checker(config, 8, available=(2 * 1024**3, "test device"))
    check(memory.MemoryNeed("state", 1024**3, ()))  # fits: no error
    with pytest.raises(device_memory.NotEnoughMemory) as refused:
        check(need)
    assert str(refused.value) == (
        "out of memory: the run needs 3.0 TiB at its peak (XLA's figure for the compiled "
        "programs) but test device has 2.0 GiB; largest array: float32[8, 100000, 1000000] "
        "(3.0 TiB) made at envs/latent.py:154 (f), sized by seeds=8, env.n_users=100000, "
        "env.n_items=1000000; lower them, or run on a larger device"
    )


def test_simulations_of_a_grid_are_named_by_seeds_and_grid():
    keys = device_memory.sizing_keys({"seeds": 4, "env": {"n_items": 8}}, 8)
    assert keys[8] == ["seeds=4 × 2 grid points", "env.n_items=8"]
    assert device_memory.sizing_keys({"seeds": 8, "env": {"n_items": 30}}, 8)[8] == ["seeds=8"]


def test_an_out_of_memory_while_running_becomes_the_same_one_line():
    config = {"seeds": 8, "env": {"n_items": 1000000}}
    need = memory.MemoryNeed("compiled", 10, (
        memory.Buffer("carry.x", (8, 1000000), "float32", 32000000),
    ))  # fmt: skip
    error = RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 123 bytes.\nmore detail")
    oom = device_memory.from_runtime_error(error, config, 8, need)
    assert "\n" not in str(oom)
    assert str(oom).startswith("out of memory: the run needs 10 B at its peak")
    assert "sized by seeds=8, env.n_items=1000000" in str(oom)
    assert str(oom).endswith(
        "(while running: RESOURCE_EXHAUSTED: Out of memory allocating 123 bytes.)"
    )
    assert (
        device_memory.from_runtime_error(RuntimeError("INTERNAL: other"), config, 8, need) is None
    )


def test_user_homogeneity_does_not_overflow_with_many_users():
    """M (M − 1) overflowed int32 from M = 46,341 (the run then failed to compile)."""
    env, params = small_env(n_users=50000)
    state = env.init(jax.random.key(0), params)
    vecs = np.asarray(state.user_vecs, np.float64)
    total = vecs.sum(axis=0)
    expected = (total @ total - 50000) / (50000 * 49999)
    np.testing.assert_allclose(float(env.user_homogeneity(state, params)), expected, atol=1e-6)


def entry_point(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.run", f"hydra.run.dir={run_dir}", *overrides,
               "compilation_cache=null"]  # fmt: skip
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides, stage, keys",
    [
        (  # the state alone: refused before compiling (the largest state: the agent's kept
            # item embeddings, [S, heads, N, e]; 5 and 32 are also slate_size, users_per_step)
            ["seeds=4096", "env.n_items=1000000"],
            "at least",
            "carry.agent_state.item_embeddings, sized by seeds=4096, env.slate_size=5, "
            "agent.n_heads=5, env.n_items=1000000",
        ),
        (  # the case, found once compiled: the [arriving users, items] intermediates
            # (554 GiB; it was the population's [users, items] before that was blocked)
            ["agent=random", "env.n_items=1000000", "env.users_per_step=4096",
             "env.n_users=100000"],
            "at its peak (XLA's figure",
            "sized by seeds=8, env.users_per_step=4096, env.n_items=1000000",
        ),
    ],
)  # fmt: skip
def test_a_run_too_big_for_the_machine_is_refused_in_one_line(tmp_path, overrides, stage, keys):
    run_dir = tmp_path / "run"
    result = entry_point(run_dir, *overrides)
    assert result.returncode == 1, result.stderr[-2000:]
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: out of memory: the run needs")
    assert stage in line and keys in line and "but this machine (cpu" in line
    record = json.loads((run_dir / "job.json").read_text())
    assert record["status"] == "failed" and record["error"].startswith("NotEnoughMemory: ")
    assert not (run_dir / "COMPLETED").exists() and not (run_dir / "metrics.parquet").exists()
