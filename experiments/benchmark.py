"""`python -m experiments.benchmark [--quick | --smoke] [--out benchmark.json]`: interactions
per second of the compiled loop against the plain NumPy reference
(`experiments.reference_numpy`), on whatever backend JAX finds. Importable and runnable
without Hydra.

Measured (interactions = user visits, each shown one slate):
  reference   the NumPy env + neural agent stepped in a Python loop, one simulation;
  loop        the compiled JAX loop for users_per_step × simulations, median of `repeats`
              timed runs after the compile (compile time reported separately);
  ratio       loop / reference at the same users_per_step;
  growth      interactions/s as the catalogue grows (10² to 10⁶ items, one simulation; a
              size whose buffers (`memory_needed_bytes`) exceed 80 % of the device's memory
              is skipped and says so) and as the network widens;
  memory      peak memory after the largest case (GPU: device peak; CPU: process max RSS);
  GFLOP/s     the dense-layer work both do (`flops_per_step`) per second, and the loop's as a
              share of the machine's measured peak (`peak_gflops`: a large float32 matmul).
The default agent: neural two-tower ensemble (5 heads, [64], embedding 32) with ε-greedy.
`--quick` is a reduced set (about two minutes); `--smoke` the smallest that runs every part once,
for the test suite: one batch row and one growth row of the same program (with JAX's persistent
compilation cache on, it compiles once). Its numbers are not a measurement.
"""

import argparse
import os
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
from recsim.core import loop, tracking
from recsim.runs import results

MAX_USERS_IN_FLIGHT = {"cpu": 16_384, "gpu": 1 << 21, "tpu": 1 << 21}
CATALOGUES = [100, 1000, 10_000, 100_000, 1_000_000]  # the growth rows' n_items (full run)
LOG_EVERY = 25  # the timed loop's logging window (its per-window metrics are part of a step)


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


def flops_per_step(users_per_step=32, n_items=200, hidden=(64,), log_every=LOG_EVERY) -> float:
    """Dense-layer FLOPs of one step of one simulation (2 per multiply-add), amortised:

        act     M (U·φ + U·N·e)             the ensemble scores the catalogue from kept ψ
        embed   M N ψ (1/update_every + 1/item_change_every)   ψ of the catalogue refreshed
        train   3 M (B ψ + B φ + B e) · n_updates/update_every  forward + backward (×3)
        truth   U N d                       the env's true attractions of the visitors
        novelty M_pop N d / log_every       the population's attraction, once per window

    (φ, ψ: multiply-adds of one input through the user / item tower; M heads, U users per
    step, N items, e embedding, B batch, d latent dim, M_pop the population.) Element-wise
    work, sorts and top-k are left out."""
    env, _, agent, _ = build(users_per_step, n_items, hidden)
    spec, e, heads = env.spec, agent.net.embedding, agent.n_heads
    item_tower = mlp_macs([spec.item_feature_dim, *hidden, e])
    user_tower = mlp_macs([spec.user_feature_dim, *hidden, e])
    users, items, batch = spec.users_per_step, spec.n_items, agent.batch_size
    act = heads * (users * user_tower + users * items * e)
    churns = 1 / spec.item_change_every if spec.item_change_every > 0 else 0.0
    refreshes = 1 / agent.update_every + churns
    embed = heads * items * item_tower * (refreshes if agent.item_cache else 1.0)
    train = 3 * heads * (batch * item_tower + batch * user_tower + batch * e)
    train *= agent.n_updates / agent.update_every
    truth = users * items * env.latent_dim
    novelty = spec.n_users * items * env.latent_dim / log_every
    return 2.0 * (act + embed + train + truth + novelty)


def peak_gflops(sizes=(1024, 2048, 4096), repeats=5) -> dict:
    """The machine's measured float32 peak: the best GFLOP/s of an n×n by n×n matmul (2n³
    FLOPs) over `sizes`, median of `repeats` after a warm-up."""
    best = {"gflops": 0.0, "n": 0}
    matmul = jax.jit(lambda a, b: a @ b)
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n))
        b = jax.random.normal(jax.random.key(1), (n, n))
        matmul(a, b).block_until_ready()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            matmul(a, b).block_until_ready()
            seconds.append(time.perf_counter() - start)
        gflops = 2 * n**3 / statistics.median(seconds) / 1e9
        if gflops > best["gflops"]:
            best = {"gflops": gflops, "n": n}
    return best


def memory_needed_bytes(users_per_step=32, n_items=200, sims=1) -> float:
    """The largest buffers of one step at these sizes, float32 (what made 10⁶ items need 18.6
    GB before the population's attraction was blocked): the ensemble's scores and their
    moments M·U·N ×3, the kept ψ M·N·e, one block of the population's attraction ×2, the env's
    item table and the tracked consumption P·N, times the simulations."""
    env, _, agent, _ = build(users_per_step, n_items)
    spec, heads, e = env.spec, agent.n_heads, agent.net.embedding
    block = min(latent.POPULATION_BLOCK, n_items)
    floats = (
        3 * heads * users_per_step * n_items
        + heads * n_items * e
        + 2 * spec.n_users * block
        + n_items * (env.latent_dim + spec.item_feature_dim + 4)
    )
    consumed = min(spec.n_users, tracking.TRACKED_USERS) * n_items  # bool: 1 byte each
    return sims * (4 * floats + consumed)


def device_memory_stats() -> dict:
    """The first device's memory statistics ({} where the backend keeps none, e.g. CPU)."""
    device = jax.devices()[0]
    return (device.memory_stats() if hasattr(device, "memory_stats") else None) or {}


def available_memory_bytes() -> float:
    """The device's memory limit (GPU), or this machine's physical memory (CPU)."""
    stats = device_memory_stats()
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def time_loop(users_per_step, sims, steps, repeats, **sizes):
    """(median interactions/s, compile seconds) of the compiled loop."""
    env, env_params, agent, agent_params = build(users_per_step, **sizes)
    log_every = min(LOG_EVERY, steps)
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
    stats = device_memory_stats()
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def batch_row(text: str) -> tuple[int, int]:
    """`--rows` item: "USERSxSIMULATIONS" -> (users_per_step, simulations)."""
    users, _, sims = text.partition("x")
    try:
        row = (int(users), int(sims))
    except ValueError:
        row = (0, 0)
    if min(row) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected USERSxSIMULATIONS, e.g. 1024x256")
    return row


def positive_int(text: str) -> int:
    """`--catalogues` item: a positive number of items."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of items")
    return int(text)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set (about a minute)")
    smoke_help = "every part once at one size (a test that it runs, not numbers)"
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"))
    rows_help = "batch rows to time instead of the set's, as USERSxSIMULATIONS (e.g. 1024x256)"
    parser.add_argument("--rows", nargs="+", type=batch_row, metavar="UxS", help=rows_help)
    catalogues_help = "growth rows' catalogue sizes instead of the set's (e.g. 100000 1000000)"
    parser.add_argument("--catalogues", nargs="+", type=positive_int, metavar="N",
                        help=catalogues_help)  # fmt: skip
    args = parser.parse_args(argv)
    backend = jax.default_backend()
    smoke = args.smoke
    quick = args.quick or smoke
    users_grid = [32] if quick else [1, 32, 64, 1024]
    sims_grid = [1] if smoke else [1, 16] if quick else [1, 16, 256]
    steps, repeats = (50, 1) if quick else (100, 3)
    limit = MAX_USERS_IN_FLIGHT.get(backend, 16_384)

    batch = args.rows or [(users, sims) for users in users_grid for sims in sims_grid]
    reference = {u: time_reference(u, steps=10 if u >= 1024 else 20 if quick else 50)
                 for u in sorted({users for users, _ in batch})}  # fmt: skip
    rows = []
    for users, sims in batch:
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
    sizes = (1024,) if smoke else (1024, 2048) if quick else (1024, 2048, 4096)
    if backend != "cpu" and not smoke:  # an accelerator reaches its peak only on large products
        sizes = (4096, 8192, 16384)
    peak = peak_gflops(sizes)
    for row in rows:
        if "loop_gflops" in row:
            row["loop_peak_pct"] = 100 * row["loop_gflops"] / peak["gflops"]
    growth = []
    catalogues = args.catalogues or ([200] if smoke else [10_000, 100_000] if quick else CATALOGUES)
    for n_items in catalogues:
        # One simulation: at 10⁵ items a step is already ~1 GFLOP for the 5-head ensemble.
        need, have = memory_needed_bytes(32, n_items), available_memory_bytes()
        if need > 0.8 * have:
            note = f"skipped: needs ~{need / 2**30:.1f} of {have / 2**30:.1f} GiB"
            growth.append(dict(axis="n_items", value=n_items, note=note))
            continue
        big = n_items >= 1_000_000
        ips, compile_seconds = time_loop(32, 1, LOG_EVERY if big else 50, 1 if big else repeats,
                                         n_items=n_items)  # fmt: skip
        ref_steps = 2 if big else 5 if n_items >= 10_000 else 20
        ref_ips = time_reference(32, steps=ref_steps, n_items=n_items)
        gflops = ips * flops_per_step(32, n_items) / 32 / 1e9
        growth.append(dict(axis="n_items", value=n_items, loop_ips=ips, reference_ips=ref_ips,
                           ratio=ips / ref_ips, compile_s=compile_seconds, loop_gflops=gflops,
                           loop_peak_pct=100 * gflops / peak["gflops"]))  # fmt: skip
    for width in [] if quick else [32, 64, 128, 256]:
        ips, compile_seconds = time_loop(32, 16, steps, repeats, hidden=(width,))
        # (reference not repeated per width: the batch table gives the ratio at the default)
        gflops = ips * flops_per_step(32, hidden=(width,)) / 32 / 1e9
        share = 100 * gflops / peak["gflops"]
        growth.append(dict(axis="hidden", value=width, loop_ips=ips, compile_s=compile_seconds,
                           loop_gflops=gflops, loop_peak_pct=share))  # fmt: skip
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
        "peak_gflops": peak,
    }
    pd.set_option("display.width", 160)
    print(f"backend {backend}, devices {report['devices']}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:,.1f}"))
    print(pd.DataFrame(growth).to_string(index=False, float_format=lambda x: f"{x:,.1f}"))
    print(f"peak memory {report['peak_memory_mb']:,.0f} MiB")
    print(
        f"peak arithmetic {peak['gflops']:,.1f} GFLOP/s (float32 matmul {peak['n']}x{peak['n']}, "
        "measured); loop_peak_pct: the loop's dense-layer GFLOP/s as a share of it"
    )
    results.write_json(args.out, report)
    print(f"written: {args.out}")
    return report


if __name__ == "__main__":
    main()
