"""The compiled agent–environment loop (DESIGN.md §2, §7), in the style of purejaxrl.

A chunk is a `lax.scan` over logging windows, each a `lax.scan` over `log_every` steps, whose
body is one step of every simulation at once (`vmap` over simulations: seeds, and later grid
points). The step counter t stays outside the `vmap`: it is the same for all simulations, so
agents can branch on it with a real `lax.cond` (e.g. "train every n steps") rather than the
select that a batched predicate becomes. The horizon is run chunk by chunk from Python, so the
chunk function is traced and compiled once per run; the carry is donated between chunks.
`count_compiles` measures that: it counts XLA compilations by JAX's own monitoring events.

Per step t of simulation s (keys from `recsim.core.keys`):

    obs      = env.observe(users_t, env_state)               # obs.step = t
    truth    = env.truth(env_state, obs)                      # metrics (and the oracle) only
    slates   = agent.act(agent_t0, agent_state, obs)          # [U, k]
    expected = env.expected_clicks(truth, slates)             # [U, k] for the metrics
    env_state, feedback = env.step(clicks_t, env_state, obs, slates)
    agent_state = agent.update(agent_t1, agent_state, obs, slates, feedback)
"""

import collections
import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import monitoring
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from recsim.core import keys as keylib
from recsim.core import memory, shared, tracking
from recsim.core.contracts import Agent, Env
from recsim.core.precision import exact
from recsim.core.types import Transition

PyTree = Any

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
"""JAX records this duration event once per XLA compilation it asks the backend for
(`jax._src.dispatch.BACKEND_COMPILE_EVENT`): also for one loaded from the persistent
compilation cache, never for one found in the in-memory caches of this process."""
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
"""Recorded when the persistent compilation cache supplied the executable."""


RECORD_STREAM = 0x0FE  # folded into the agent's key of a step: the key of its `record`


class SimParams(NamedTuple):
    """All traced knobs of one simulation."""

    env: PyTree
    agent: PyTree


class SimCarry(NamedTuple):
    """Everything that one simulation carries from step to step."""

    keys: keylib.SimKeys
    env_state: PyTree
    agent_state: PyTree
    totals: tracking.Totals


@dataclasses.dataclass(frozen=True)
class Simulation:
    """Builds the init and chunk functions of one experiment (static structure only)."""

    env: Env
    agent: Agent
    log_every: int
    windows_per_chunk: int
    # What each step leaves besides the metrics (one simulation: (key, transition, params) ->
    # a pytree), e.g. the interaction log or off-policy terms; the chunk returns it per step.
    # Its key is its own (folded from the agent's stream): it changes no other draw.
    record: Callable[[jax.Array, Transition, SimParams], PyTree] | None = None

    def init(self, master: jax.Array, seed: jax.Array, params: SimParams) -> SimCarry:
        """Initial carry of the simulation with seed number `seed` (one simulation)."""
        sim_keys = keylib.simulation_keys(master, seed)
        spec = self.env.spec
        return SimCarry(
            keys=sim_keys,
            env_state=exact(self.env.init)(sim_keys.world, params.env),
            agent_state=self.agent.init(sim_keys.agent_init, params.agent),
            totals=tracking.init_totals(spec.n_items, spec.slate_size, spec.n_users),
        )

    def transition(
        self, carry: SimCarry, params: SimParams, t: jax.Array
    ) -> tuple[SimCarry, Transition]:
        """Step t of one simulation: observe, act, click, learn."""
        env, agent = self.env, self.agent
        obs = exact(env.observe)(keylib.at_step(carry.keys.users, t), carry.env_state, params.env)
        obs = obs.replace(step=t)
        truth = exact(env.truth)(carry.env_state, obs, params.env)
        act_key, update_key = jax.random.split(keylib.at_step(carry.keys.agent, t))
        if getattr(agent, "uses_population", False):
            population = exact(env.population_attraction)(carry.env_state, params.env)
            truth = truth.replace(population_attraction=population)
        privileged = (truth,) if agent.uses_truth else ()
        slates, info = agent.act(act_key, carry.agent_state, obs, params.agent, *privileged)
        expected = exact(env.expected_clicks)(truth, slates, params.env)
        env_state, feedback = exact(env.step)(
            keylib.at_step(carry.keys.clicks, t), carry.env_state, obs, slates, params.env
        )
        agent_state = agent.update(
            update_key, carry.agent_state, obs, slates, feedback, params.agent
        )
        carry = carry._replace(env_state=env_state, agent_state=agent_state)
        return carry, Transition(obs, slates, feedback, truth, info, expected)

    def step(
        self,
        carry: SimCarry,
        window: tracking.WindowSums,
        params: SimParams,
        t: jax.Array,
        novelty_reference: jax.Array,
    ) -> tuple[SimCarry, tracking.WindowSums, PyTree]:
        """Step t of one simulation, folded into the metric counters (`novelty_reference`:
        the population attraction [N] at the start of the window), and its `record`."""
        carry, tr = self.transition(carry, params, t)
        record = None
        if self.record is not None:
            record_key = jax.random.fold_in(keylib.at_step(carry.keys.agent, t), RECORD_STREAM)
            record = self.record(record_key, tr, params)
        last_of_window = (t + 1) % self.log_every == 0  # t is not batched: a real cond
        totals, window = exact(tracking.accumulate)(
            carry.totals, window, tr, self.log_every, novelty_reference,
            evaluate_model=last_of_window if self.agent.predicts_clicks else False,
        )  # fmt: skip
        return carry._replace(totals=totals), window, record

    def chunk(
        self, carry: SimCarry, params: SimParams, t: jax.Array
    ) -> tuple[SimCarry, dict[str, jax.Array], PyTree]:
        """`windows_per_chunk` windows of all simulations from step t.

        Args:
          carry: batched carry, leading axis S (simulations).
          params: batched params, leading axis S.
          t: [] int32 first step of the chunk (not batched).

        Returns:
          The carry after the chunk, rows: metric -> [S, windows_per_chunk], and the `record`
          of every step, leaves [S, steps of the chunk, ...] (None without `record`).
        """
        n_sims = jax.tree.leaves(carry.keys)[0].shape[0]
        env_axes = shared.axes(params.env)  # world data (`SharedData`) is not batched
        step_all = jax.vmap(self.step, in_axes=(0, 0, shared.axes(params), None, 0))
        row_all = jax.vmap(exact(functools.partial(tracking.row, n_users=self.env.spec.n_users)))
        population_all = jax.vmap(exact(self.env.population_attraction), in_axes=(0, env_axes))
        homogeneity_all = jax.vmap(exact(self.env.user_homogeneity), in_axes=(0, env_axes))

        def one_window(state, _):
            def one_step(state, _):
                carry, window, t = state
                carry, window, record = step_all(carry, window, params, t, reference)
                return (carry, window, t + 1), record

            carry, t = state
            reference = population_all(carry.env_state, params.env)  # [S, N] once per window
            window = tracking.init_window(self.env.spec.n_groups, n_sims)
            (carry, window, t), records = jax.lax.scan(
                one_step, (carry, window, t), None, length=self.log_every
            )
            homogeneity = homogeneity_all(carry.env_state, params.env)
            row = row_all(carry.totals, window, user_homogeneity=homogeneity)
            return (carry, t), (row, records)

        (carry, _), (rows, records) = jax.lax.scan(
            one_window, (carry, t), None, length=self.windows_per_chunk
        )
        # records: [windows, log_every, S, ...] -> [S, windows · log_every, ...]
        records = jax.tree.map(
            lambda x: jnp.moveaxis(x, 2, 0).reshape(n_sims, -1, *x.shape[3:]), records
        )
        return carry, {name: values.T for name, values in rows.items()}, records


@contextlib.contextmanager
def count_compiles() -> Iterator[collections.Counter]:
    """Counts the XLA compilations that JAX makes while the block runs.

    Yields a `Counter` that fills as the block runs: `compiles` (programs compiled, or loaded
    from the persistent compilation cache) and `cache_hits` (those of them loaded from it).
    Listens to JAX's monitoring events, so it sees every compilation of this process — a
    program jitted anywhere inside the block counts too.

    >>> with count_compiles() as counts:
    ...     _ = jax.jit(lambda x: x + 1)(jnp.zeros(3))
    >>> counts["compiles"]
    1
    """
    counts = collections.Counter()

    def on_duration(event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            counts["compiles"] += 1

    def on_event(event: str, **kwargs: Any) -> None:
        if event == CACHE_HIT_EVENT:
            counts["cache_hits"] += 1

    monitoring.register_event_duration_secs_listener(on_duration)
    monitoring.register_event_listener(on_event)
    try:
        yield counts
    finally:
        monitoring.unregister_event_duration_listener(on_duration)
        monitoring.unregister_event_listener(on_event)


class RunResult(NamedTuple):
    """Host-side outcome of a run."""

    rows: dict[str, np.ndarray]  # metric -> [simulations, windows]
    compile_seconds: float
    run_seconds: float
    traces: int  # times the chunk function was traced (1 for a healthy run)
    devices: int  # devices the simulation axis was sharded over
    compiles: dict[str, int]  # XLA compilations measured while building init, chunk; in run
    cache_hits: int = 0  # of those compilations, the ones loaded from the persistent cache
    final_carry: SimCarry | None = None  # batched final state (leading axis: simulation)
    memory_bytes: dict[str, int | None] = {}  # "state" and "compiled" (`recsim.core.memory`)
    resumed_at: int = 0  # chunks done before this execution (0: it started from init)


class Resume(NamedTuple):
    """Where an execution starts other than from init: after `chunks_done` chunks, with the
    batched carry they left (on the devices, as the chunk program takes it) and their rows
    (metric -> [simulations, chunks_done * windows_per_chunk])."""

    chunks_done: int
    carry: SimCarry
    rows: dict[str, np.ndarray]


AfterChunk = Callable[[int, SimCarry, dict[str, np.ndarray]], None]
"""Called after each chunk but the last with (chunks done, the carry, every row so far); the
carry is donated to the next chunk once it returns (e.g. a checkpoint copies it to the host)."""


def simulation_sharding(n_sims: int) -> NamedSharding | None:
    """Shards the leading (simulation) axis over all local devices, when there are several
    and they divide the number of simulations; None means one device."""
    devices = jax.local_devices()
    if len(devices) < 2 or n_sims % len(devices):
        return None
    return NamedSharding(Mesh(np.asarray(devices), ("sims",)), PartitionSpec("sims"))


def windows_per_chunk(n_windows: int, max_chunks: int = 20) -> int:
    """The smallest divisor of `n_windows` giving at most `max_chunks` equal chunks."""
    divisors = (d for d in range(1, n_windows + 1) if not n_windows % d)
    return next(d for d in divisors if n_windows // d <= max_chunks)


def batch_params(params: SimParams, n_sims: int) -> SimParams:
    """Broadcasts unbatched params to a leading simulation axis (world data, `SharedData`,
    stays unbatched: held once)."""
    return shared.map_batched(lambda x: jnp.broadcast_to(x, (n_sims, *jnp.shape(x))), params)


@dataclasses.dataclass
class CompiledRun:
    """A run's compiled init and chunk programs with their inputs; `execute` may be called
    again and again (the benchmark times repeats without compiling again).

    `compiles` holds the XLA compilations measured (`count_compiles`) while building each
    program: {"init": 1, "chunk": 1} when each was compiled once; `execute` adds the count
    measured while it runs as "run" (0 when no chunk or anything else was compiled again).
    """

    init: Any  # compiled: (master, seed_ids, params) -> carry
    chunk: Any  # compiled: (carry, params, t) -> (carry, rows, records); carry donated
    carry_info: SimCarry  # the batched carry's ShapeDtypeStructs (with their shardings)
    rows_info: dict[str, Any]  # metric -> ShapeDtypeStruct of one chunk's rows
    master: jax.Array
    seed_ids: jax.Array
    params: SimParams
    n_chunks: int
    steps_per_chunk: int
    compile_seconds: float
    traces: list[int]
    devices: int
    compiles: dict[str, int] = dataclasses.field(default_factory=dict)
    cache_hits: int = 0
    memory_bytes: dict[str, int | None] = dataclasses.field(default_factory=dict)

    def execute(
        self,
        progress: Callable[[Iterable[int]], Iterable[int]] = lambda chunks: chunks,
        resume: Resume | None = None,
        after_chunk: AfterChunk | None = None,
        on_records: Callable[[int, PyTree], None] | None = None,
    ) -> RunResult:
        """Runs the chunks from init, or from `resume`; `progress` wraps the chunk indices
        run, `after_chunk` (if given) sees the state after each chunk but the last, and
        `on_records` (chunk index, the chunk's `Simulation.record`s on the host) each chunk
        before `after_chunk` (so a checkpoint follows the records it covers)."""
        with count_compiles() as counts:
            if resume is None:
                first, chunks = 0, []
                carry = jax.block_until_ready(self.init(self.master, self.seed_ids, self.params))
            else:
                first, chunks, carry = resume.chunks_done, [resume.rows], resume.carry
            start = time.perf_counter()
            for index in progress(range(first, self.n_chunks)):
                t = jnp.int32(index * self.steps_per_chunk)
                carry, rows, records = self.chunk(carry, self.params, t)
                chunks.append(jax.device_get(rows))  # waits for the chunk: progress is real
                if on_records is not None:
                    on_records(index, jax.device_get(records))
                if after_chunk is not None and index + 1 < self.n_chunks:
                    after_chunk(index + 1, carry, _joined(chunks))
            rows = _joined(chunks)
            run_seconds = time.perf_counter() - start
        compiles = {**self.compiles, "run": counts["compiles"]}
        return RunResult(rows, self.compile_seconds, run_seconds, self.traces[0], self.devices,
                         compiles, self.cache_hits + counts["cache_hits"], carry,
                         self.memory_bytes, first)  # fmt: skip


def _joined(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The rows of consecutive chunks, joined along the window axis."""
    return {name: np.concatenate([c[name] for c in chunks], axis=1) for name in chunks[0]}


def compile_run(
    simulation: Simulation,
    params: SimParams,
    master_seed: int,
    seeds: Iterable[int],
    steps: int,
    batched: bool = False,
    check_memory: Callable[[memory.MemoryNeed], None] | None = None,
) -> CompiledRun:
    """Traces and compiles the init and chunk programs once (see `run` for the arguments).

    The chunk is lowered from the abstract carry of init (`out_info`: shapes, dtypes, weak
    types and shardings, no FLOPs), so init runs only once, in `execute`. `check_memory`, if
    given, sees what the run will hold (`recsim.core.memory`) twice: the state, before
    compiling, and XLA's figure, after; it raises to stop the run before anything runs.
    """
    seed_ids = jnp.asarray(list(seeds), jnp.int32)
    n_sims = seed_ids.shape[0]
    steps_per_chunk = simulation.log_every * simulation.windows_per_chunk
    if steps % steps_per_chunk:
        raise ValueError(f"steps={steps} is not a multiple of the chunk length {steps_per_chunk}")
    if not batched:
        params = batch_params(params, n_sims)
    traces = [0]

    def counted_chunk(carry, batched_params, t):
        traces[0] += 1  # runs only while tracing
        return simulation.chunk(carry, batched_params, t)

    master = jax.random.key(master_seed)
    sharding = simulation_sharding(n_sims)
    if sharding is not None:  # the vmap axis is split over devices; XLA partitions the rest
        replicated = NamedSharding(sharding.mesh, PartitionSpec())
        seed_ids = jax.device_put(seed_ids, sharding)
        params = jax.tree.map(
            lambda x: jax.device_put(x, replicated if shared.is_shared(x) else sharding),
            params,
            is_leaf=shared.is_shared,
        )
    t = jnp.int32(0)  # made here: converting it is an XLA compilation of its own
    start = time.perf_counter()
    init_all = jax.jit(
        jax.vmap(simulation.init, in_axes=(None, 0, shared.axes(params))), out_shardings=sharding
    )
    devices = 1 if sharding is None else len(sharding.mesh.devices)
    with count_compiles() as init_counts:
        traced_init = init_all.trace(master, seed_ids, params)
        carry = traced_init.out_info  # ShapeDtypeStructs of the batched carry
        state = memory.state_buffers(carry, "carry") + memory.state_buffers(params, "params")
        state_bytes = -(-sum(buffer.nbytes for buffer in state) // devices)  # per device
        if check_memory is not None:
            check_memory(memory.MemoryNeed("state", state_bytes, tuple(state[:3])))
        init = traced_init.lower().compile()
    with count_compiles() as chunk_counts:
        traced_chunk = jax.jit(counted_chunk, donate_argnums=0).trace(carry, params, t)
        chunk = traced_chunk.lower().compile()
    compile_seconds = time.perf_counter() - start
    peaks = [memory.compiled_bytes(program) for program in (init, chunk)]
    compiled_bytes = None if None in peaks else max(peaks)
    if compiled_bytes is not None and check_memory is not None:
        made = memory.largest_intermediates(traced_chunk.jaxpr)
        largest = sorted([*made, *state[:3]], key=lambda buffer: -buffer.nbytes)[:3]
        check_memory(memory.MemoryNeed("compiled", compiled_bytes, tuple(largest)))
    compiles = {"init": init_counts["compiles"], "chunk": chunk_counts["compiles"]}
    cache_hits = init_counts["cache_hits"] + chunk_counts["cache_hits"]
    memory_bytes = {"state": state_bytes, "compiled": compiled_bytes}
    rows_info = traced_chunk.out_info[1]
    return CompiledRun(init, chunk, carry, rows_info, master, seed_ids, params,
                       steps // steps_per_chunk, steps_per_chunk, compile_seconds, traces,
                       devices, compiles, cache_hits, memory_bytes)  # fmt: skip


def run(
    simulation: Simulation,
    params: SimParams,
    master_seed: int,
    seeds: Iterable[int],
    steps: int,
    batched: bool = False,
    progress: Callable[[Iterable[int]], Iterable[int]] = lambda chunks: chunks,
    check_memory: Callable[[memory.MemoryNeed], None] | None = None,
) -> RunResult:
    """Runs `steps` steps of every seed in one vmapped, compiled program.

    Args:
      simulation: the static experiment.
      params: traced knobs, shared by all simulations, or with a leading axis of len(seeds)
        when `batched`.
      master_seed: the experiment's master seed.
      seeds: seed numbers of the simulations (their identity, see `recsim.core.keys`).
      steps: horizon; a multiple of `log_every * windows_per_chunk`.
      batched: whether `params` already has the simulation axis.
      progress: wraps the iterable of chunk indices (e.g. a progress bar).
      check_memory: sees what the run will hold before it runs (see `compile_run`).
    """
    compiled = compile_run(simulation, params, master_seed, seeds, steps, batched, check_memory)
    return compiled.execute(progress)


def rollout(
    simulation: Simulation, params: SimParams, master_seed: int, seed: int, steps: int
) -> tuple[SimCarry, Transition]:
    """Every step of one simulation kept on the host, for inspection and tests.

    Same keys and same transitions as `run` (so the same trajectory), but unreduced: memory
    grows with steps × users × items. Returns the final carry and the stacked transitions
    (leading axis: step).
    """

    def one_step(carry, t):
        return simulation.transition(carry, params, t)

    @jax.jit
    def simulate(master, seed):
        carry = simulation.init(master, seed, params)
        return jax.lax.scan(one_step, carry, jnp.arange(steps, dtype=jnp.int32))

    return simulate(jax.random.key(master_seed), jnp.int32(seed))
