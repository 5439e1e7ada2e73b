"""`python -m experiments.benchmark [--quick | --smoke] [--out benchmark.json]`: interactions
per second of the compiled loop against the plain NumPy reference
(`experiments.reference_numpy`), on whatever backend JAX finds. Importable and runnable
without Hydra.

Measured (interactions = user visits, each shown one slate):
  reference   the NumPy env + neural agent stepped in a Python loop, one simulation;
  loop        the compiled JAX loop for users_per_step × simulations, median of `repeats`
              timed runs after the compile (compile time reported separately);
  ratio       loop / reference at the same users_per_step;
  growth      interactions/s as the catalogue grows and as the network widens;
  memory      peak memory after the largest case (GPU: device peak; CPU: process max RSS);
  GFLOP/s     the dense-layer work both do (`flops_per_step`) per second: how close each
              comes to the machine's arithmetic peak, which bounds the ratio.
The default agent: neural two-tower ensemble (5 heads, [64], embedding 32) with ε-greedy.
`--quick` is a reduced set (about a minute); `--smoke` the smallest that runs every part once,
for the test suite: one batch row and one growth row of the same program (with JAX's persistent
compilation cache on, it compiles once). Its numbers are not a measurement.
"""

import argparse
import platform
import resource
import statistics
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from agents import neural, with_exploration
from agents.exploration import epsilon_greedy
from envs import latent
from experiments import reference_numpy as ref
from recsim.core import loop
from recsim.runs import results

MAX_USERS_IN_FLIGHT = {"cpu": 16_384, "gpu": 1 << 21, "tpu": 1 << 21}


def build(users_per_step=32, n_items=200, hidden=(64,)):
    """The default experiment's env and agent at the given sizes."""
    env_config = latent.LatentConfig(
        users_per_step=users_per_step, n_users=max(2000, users_per_step), n_items=n_items
    )
    env, env_params = latent.make(env_config)
    agent_config = neural.NeuralConfig(hidden=list(hidden))
    exploration = epsilon_greedy.make(epsilon_greedy.EpsilonGreedyConfig(), env.spec)
    agent, agent_params = with_exploration(neural.make(agent_config, env.spec), exploration)
    return env, env_params, agent, agent_params


def mlp_macs(sizes: list[int]) -> int:
    """Multiply-adds of one input through dense layers of the given widths."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def flops_per_step(users_per_step=32, n_items=200, hidden=(64,)) -> float:
    """Dense-layer FLOPs of one step of one simulation (2 per multiply-add): the ensemble
    scoring the catalogue for the arriving users, the amortised training step (forward and
    backward, ×3), and the env's true probabilities. Element-wise work is left out."""
    env, _, agent, _ = build(users_per_step, n_items, hidden)
    spec, e, heads = env.spec, agent.net.embedding, agent.n_heads
    item_tower = mlp_macs([spec.item_feature_dim, *hidden, e])
    user_tower = mlp_macs([spec.user_feature_dim, *hidden, e])
    users, items = spec.users_per_step, spec.n_items
    act = heads * (items * item_tower + users * user_tower + users * items * e)
    batch = agent.batch_size
    train = 3 * heads * (items * item_tower + batch * user_tower + batch * e)
    train *= agent.n_updates / agent.update_every
    truth = users * items * env.latent_dim
    return 2.0 * (act + train + truth)


def time_loop(users_per_step, sims, steps, repeats, **sizes):
    """(median interactions/s, compile seconds) of the compiled loop."""
    env, env_params, agent, agent_params = build(users_per_step, **sizes)
    log_every = min(25, steps)
    simulation = loop.Simulation(env, agent, log_every, windows_per_chunk=steps // log_every)
    compiled = loop.compile_run(
        simulation, loop.SimParams(env_params, agent_params), 0, range(sims), steps
    )
    compiled.execute()  # warm-up
    seconds = [compiled.execute().run_seconds for _ in range(repeats)]
    return sims * steps * users_per_step / statistics.median(seconds), compiled.compile_seconds


def time_reference(users_per_step, steps, **sizes):
    """interactions/s of the NumPy reference (one simulation, after 2 warm-up steps)."""
    env, env_params, agent, agent_params = build(users_per_step, **sizes)
    key = jax.random.key(0)
    state = env.init(key, env_params)
    agent_state = agent.init(key, agent_params)
    world = ref.LatentWorld(env, state, env_params)
    numpy_agent = ref.NeuralEpsilonGreedy(
        agent, agent_state.network, agent_params, 0.1, np.asarray(state.item_features)
    )
    ref.simulate(world, numpy_agent, steps=2)
    start = time.perf_counter()
    ref.simulate(world, numpy_agent, steps=steps, seed=1)
    return steps * users_per_step / (time.perf_counter() - start)


def peak_memory_mb() -> float:
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set (about a minute)")
    smoke_help = "every part once at one size (a test that it runs, not numbers)"
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"))
    args = parser.parse_args(argv)
    backend = jax.default_backend()
    smoke = args.smoke
    quick = args.quick or smoke
    users_grid = [32] if quick else [1, 32, 64, 1024]
    sims_grid = [1] if smoke else [1, 16] if quick else [1, 16, 256]
    steps, repeats = (50, 1) if quick else (100, 3)
    limit = MAX_USERS_IN_FLIGHT.get(backend, 16_384)

    reference = {u: time_reference(u, steps=10 if u >= 1024 else 20 if quick else 50)
                 for u in users_grid}  # fmt: skip
    rows = []
    for users in users_grid:
        for sims in sims_grid:
            if users * sims > limit:
                rows.append(dict(users_per_step=users, simulations=sims, note="skipped: too large"))
                continue
            ips, compile_seconds = time_loop(users, sims, steps, repeats)
            per_visit = flops_per_step(users) / users
            rows.append(dict(users_per_step=users, simulations=sims,
                             reference_ips=reference[users], loop_ips=ips,
                             ratio=ips / reference[users], compile_s=compile_seconds,
                             reference_gflops=reference[users] * per_visit / 1e9,
                             loop_gflops=ips * per_visit / 1e9))  # fmt: skip
    growth = []
    for n_items in [200] if smoke else [1000] if quick else [100, 1000, 10_000, 100_000]:
        # One simulation: at 10⁵ items a step is already ~4 GFLOP for the 5-head ensemble.
        ips, compile_seconds = time_loop(32, 1, 50, repeats, n_items=n_items)
        ref_ips = time_reference(32, steps=5 if n_items >= 10_000 else 20, n_items=n_items)
        growth.append(dict(axis="n_items", value=n_items, loop_ips=ips, reference_ips=ref_ips,
                           ratio=ips / ref_ips, compile_s=compile_seconds))  # fmt: skip
    for width in [] if quick else [32, 64, 128, 256]:
        ips, compile_seconds = time_loop(32, 16, steps, repeats, hidden=(width,))
        # (reference not repeated per width: the batch table gives the ratio at the default)
        growth.append(dict(axis="hidden", value=width, loop_ips=ips, compile_s=compile_seconds))
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "quick": quick,
        "smoke": smoke,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": __import__("os").cpu_count(),
        },  # fmt: skip
        **results.environment_info(),
        "steps": steps,
        "repeats": repeats,
        "batch": rows,
        "growth": growth,
        "peak_memory_mb": peak_memory_mb(),
    }
    pd.set_option("display.width", 160)
    print(f"backend {backend}, devices {report['devices']}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:,.1f}"))
    print(pd.DataFrame(growth).to_string(index=False, float_format=lambda x: f"{x:,.1f}"))
    print(f"peak memory {report['peak_memory_mb']:,.0f} MiB")
    results.write_json(args.out, report)
    print(f"written: {args.out}")
    return report


if __name__ == "__main__":
    main()
