"""Usage errors of `python -m experiments.run`, single runs and sweeps: one line, exit 2,
nothing written, and reported before the heavy modules (pandas, scipy, matplotlib) load."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENTS = "best_fixed, lints, linucb, neural, oracle, popularity, popularity_clicks, random"
PLANS = "boltzmann, diversity, epsilon_greedy, greedy, random, thompson, ucb, uncertainty"
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
pytestmark = pytest.mark.slow


def entry_point(*arguments: str, python_flags=()) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, *python_flags, "-m", "experiments.run", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


NOT_INT = "env.n_items=x: not a valid Integer"
BAD_SYNTAX = (
    f"env.n_items=[1,2: not a valid override (no viable alternative at input '[1,2'); see {GRAMMAR}"
)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["agent=nope"], f"agent=nope: no such option; choose one of {AGENTS}"),
        (["foo=1,2", "agent=nope"], f"agent=nope: no such option; choose one of {AGENTS}"),
        (["+experiment=compare_exploration", "env.n_items=x"], NOT_INT),
        (["env.n_items=[1,2"], BAD_SYNTAX),
    ],
)  # fmt: skip
def test_a_sweep_that_cannot_compose_is_one_line_exit_2(tmp_path, overrides, message):
    result = entry_point("--multirun", f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: {message}"
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "sweep").exists()


def test_a_sweep_names_each_job_that_cannot_compose_in_one_line_each(tmp_path):
    result = entry_point("--multirun", f"hydra.sweep.dir={tmp_path / 'sweep'}", "foo=1,2")
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == ""  # errors go to stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: foo=1: foo: unknown key (not in RunConfig)",
        "error: foo=2: foo: unknown key (not in RunConfig)",
    ]
    assert not (tmp_path / "sweep").exists()
    options = entry_point("--multirun", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                          "agent=neural", "exploration=greedy,nope")  # fmt: skip
    assert options.returncode == 2, options.stderr
    assert options.stderr.strip().splitlines()[-1] == (
        f"error: agent=neural exploration=nope: exploration=nope: no such option; "
        f"choose one of {PLANS}"
    )
    assert not (tmp_path / "sweep").exists()


def test_a_bad_override_syntax_in_a_single_run_is_one_line(tmp_path):
    result = entry_point(f"hydra.run.dir={tmp_path / 'run'}", "env.n_items=[1,2")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {BAD_SYNTAX}"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override", ["foo=1", "agent=nope", "env.n_items=-1", "seeds=x"])
def test_usage_errors_come_before_pandas_scipy_and_matplotlib_load(tmp_path, override):
    """The time to a usage error is the imports before it: JAX, Flax, Hydra and the agents'
    configs are needed to compose and validate; the result writers' libraries are not."""
    result = entry_point(
        f"hydra.run.dir={tmp_path / 'run'}", override, python_flags=["-X", "importtime"]
    )
    assert result.returncode == 2
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "jax" in imported and "hydra" in imported  # the check can see imports
    assert not {"pandas", "scipy", "matplotlib", "pyarrow"} & imported
