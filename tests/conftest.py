"""Shared small configurations: big enough to be meaningful, small enough to compile fast."""

import dataclasses
import os

import pytest


def _jaxlib_minor() -> tuple[int, int]:
    """jaxlib's (major, minor), read without importing JAX."""
    from importlib.metadata import version

    major, minor = version("jaxlib").split(".")[:2]
    return int(major), int(minor)


TEST_COMPILE = " ".join(
    ["--xla_backend_optimization_level=0"]
    # XLA aborts a process whose XLA_FLAGS name a flag it does not know, and jaxlib 0.11's
    # (the GPU image's) no longer has this one: seen on an H200, every test worker died at start.
    + (["--xla_cpu_use_fusion_emitters=false"] if _jaxlib_minor() < (0, 11) else [])
    + ["--xla_cpu_use_xnnpack=false"]
)
"""XLA flags of the whole test session, in-process and in every subprocess (they are set in
the environment before JAX starts its backend, and subprocesses inherit them): the same
programs, compiled without LLVM's optimisations, with XLA's elemental (not MLIR fusion)
emitters and without XNNPACK: about 4 times faster to compile (a LinUCB run on the small env on
2 cores: 20.8 s of XLA compiling at the defaults, 4.9 s with these) and about 4 times slower
to run (the default experiment at 6 seeds: compile 19.1 s and run 10.5 s at the defaults, 5.4 s
and 47.0 s with these), so the tests of long runs use the defaults (`production_env`: the
default experiment's runs, the learning checks). Every test's claim is about
what a program computes, not how fast. The flags change floating-point results in the last
bits, so a learning run's trajectory may part from the default build's after a while (the
default experiment at 6 seeds: expected_ctr 0.3922 against 0.3932, both within the other's
seed spread): every comparison between two runs is between programs compiled under the same
flags (they are part of JAX's cache key, so one setting's programs are never loaded for the
other). `RECSIM_TEST_DEFAULT_COMPILE=1` runs the whole suite under the defaults."""

if not os.environ.get("RECSIM_TEST_DEFAULT_COMPILE"):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_COMPILE}".strip()

# After XLA_FLAGS is set (TEST_COMPILE):
import agents  # noqa: E402
from agents import exploration as explorations  # noqa: E402
from envs.latent import LatentConfig, make  # noqa: E402
from recsim.core import loop  # noqa: E402

CACHE_DIR = pytest.StashKey[str]()
CACHE_OWNED = pytest.StashKey[str]()

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


SEEDS = range(8)
"""Seeds of the small-env runs that compare agents or settings: one vmap width (the number of
simulations is a static shape), so each agent's program compiles once for all those tests and
the others load it from the compilation cache."""


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


@pytest.fixture(autouse=True)
def _trace_afresh_while_mutmut_maps_tests():
    """While mutmut records which tests call which function (`MUTANT_UNDER_TEST=stats`),
    every test starts with JAX's tracing caches empty. Otherwise a jitted function shared by
    several tests (one jitted `select` per strategy, a simulation's programs) runs its Python
    only in the first test to trace it; mutmut then credits that test alone, runs only it
    against the function's mutants, and reports as alive a mutant that another test kills
    (seen: five "survivors" of diversity and uncertainty that their hand-example tests kill).
    Costs nothing otherwise."""
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        import jax

        jax.clear_caches()
    yield


@pytest.fixture
def static_world():
    """Overrides that switch off drift and boredom: the click model alone."""
    return dict(drift_rate=0.0, boredom_penalty=0.0)


def at_step(obs, step):
    """`obs` as the loop would give it at step `step` of a world without item churn: every item
    is as old as the run (so no agent mistakes it for a fresh item)."""
    import jax.numpy as jnp

    return obs.replace(step=jnp.int32(step), item_age=jnp.full_like(obs.item_age, step))


@pytest.fixture(scope="session")
def data_overrides(tmp_path_factory):
    """env name -> the overrides that give a real-data world its data: synthetic files in the
    data's exact format (`tests/real_data_files.py`) and a fit cache of the session."""
    from tests import real_data_files as files

    root = tmp_path_factory.mktemp("data")
    movielens = files.write_official(root / "ml-100k", files.planted_movielens())
    return {
        "latent": (),
        "movielens": (f"env.data_dir={movielens}", f"env.fit_cache={root / 'fits'}",
                      "env.epochs=20"),
        "kuairec": (f"env.data_dir={files.write_kuairec(root / 'kuairec')}",),
    }  # fmt: skip


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a test's subprocess: the CPU backend (or the platforms named by
    `RECSIM_TEST_PLATFORMS`, e.g. `cuda,cpu` to run the entry points' tests on a GPU too), and
    this run's compilation cache (JAX reads `JAX_COMPILATION_CACHE_DIR`; `experiments.run`
    replaces it with its `compilation_cache` unless that is null), so identical programs compile
    once per run, and the session's `TEST_COMPILE` flags (inherited through `XLA_FLAGS`)."""
    import jax

    env = {**os.environ, "JAX_PLATFORMS": subprocess_platforms(), **extra}
    directory = jax.config.jax_compilation_cache_dir
    if directory:
        env["JAX_COMPILATION_CACHE_DIR"] = directory
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


TINY_STRATEGIES = pytest.mark.xdist_group("tiny_neural_strategies")
"""The tests that run every exploration strategy with the neural agent through the entry point
at the tiny size (`steps=20 log_every=10 seeds=2 env.n_items=30 env.n_users=100`): the same
eight programs, so under pytest-xdist they run on one worker, one after another, and all but
the first load them from the compilation cache instead of compiling them again."""


def subprocess_platforms() -> str:
    """JAX_PLATFORMS of a test's subprocess: `RECSIM_TEST_PLATFORMS`, else "cpu"."""
    return os.environ.get("RECSIM_TEST_PLATFORMS", "cpu")


def subprocess_backend() -> str:
    """The JAX backend a test's subprocess runs on (`subprocess_env`): "cpu", or "gpu" where
    `RECSIM_TEST_PLATFORMS` names CUDA or ROCm first."""
    first = subprocess_platforms().split(",")[0]
    return "gpu" if first in ("cuda", "rocm", "gpu") else first


def production_env(**extra: str) -> dict[str, str]:
    """`subprocess_env` under XLA's default compilation (without `TEST_COMPILE`), as users run."""
    env = subprocess_env(**extra)
    flags = env.get("XLA_FLAGS", "").replace(TEST_COMPILE, "").strip()
    if flags:
        env["XLA_FLAGS"] = flags
    else:
        env.pop("XLA_FLAGS", None)
    return env


def pytest_configure(config):
    """Tests share compiled programs through JAX's persistent compilation cache, in a fresh
    directory per test session (identical programs in different tests compile once). Under
    pytest-xdist the controller makes the directory and every worker of the run shares it
    (`pytest_configure_node`); it is removed when the run ends."""
    import os
    import tempfile

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and config.getvalue("loadgroup"):
        config.pluginmanager.register(XdistGroupSuffix(), "recsim-xdist-group-suffix")
    if os.environ.get("RECSIM_TEST_NO_CACHE"):
        return
    if workerinput is not None:  # an xdist worker: the run's directory, made by the controller
        directory = workerinput.get("recsim_jax_cache")
        if workerinput.get("workercount", 1) > 1:
            # Several processes share one accelerator: none may preallocate most of its memory.
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    else:
        directory = None
    if directory is None:
        directory = tempfile.mkdtemp(prefix="recsim-test-jax-cache-")
        config.stash[CACHE_OWNED] = directory

    import jax

    config.stash[CACHE_DIR] = directory
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


class XdistGroupSuffix:
    """pytest-xdist (3.8) tells its controller a test's `xdist_group` by appending `@group` to
    the test's node id on the worker (`item._nodeid`); since pytest 9.2 a node id is read from a
    structured id that this no longer changes, so `--dist loadgroup` silently spread every group
    over the workers (pytest-xdist#1386), and a module's fixture ran once per worker. Runs after
    xdist's own hook and appends the suffix where xdist's did not take."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        for item in items:
            names = {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
            suffix = "@" + "_".join(sorted(names))
            if names and not item.nodeid.endswith(suffix):
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(item.nodeid + suffix)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: every worker of this run shares the controller's cache directory."""
    directory = node.config.stash.get(CACHE_DIR, None)
    if directory is not None:
        node.workerinput["recsim_jax_cache"] = directory


def pytest_unconfigure(config):
    import shutil

    directory = config.stash.get(CACHE_OWNED, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Slow tests first, so that under pytest-xdist the long runs start early and the short
    tests fill in at the end (no worker left alone with one long test). Under `--dist
    loadgroup`, the tests of a module with a module-scoped fixture (a run that several tests
    read) go to one worker, so the fixture is computed once per run; such a module moves as a
    whole (slow if any of its tests is), so its fixture is set up once without xdist too."""
    grouped = set()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is not None and any(
            fixturedef.scope == "module"
            for fixturedefs in info.name2fixturedefs.values()
            for fixturedef in fixturedefs
        ):
            grouped.add(item.module.__name__)
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    slow_modules = {
        item.module.__name__
        for item in items
        if item.module.__name__ in grouped and item.get_closest_marker("slow")
    }

    def fast(item) -> bool:
        if item.module.__name__ in grouped:
            return item.module.__name__ not in slow_modules
        return item.get_closest_marker("slow") is None

    items.sort(key=fast)  # stable: the collection order within each part
