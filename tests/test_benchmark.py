"""The benchmark entry point keeps working (no timing assertions: speed is not a unit test)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_benchmark_prints_the_table_and_writes_json(tmp_path):
    """Every part of the benchmark once (`--smoke`: one batch row and one growth row of one
    program, which the run's compilation cache compiles once; `--quick` and the full set only
    add sizes to the same code). Under the test session's quick compilation (`TEST_COMPILE`,
    inherited): its figures are not the benchmark's (the test asserts none), and it takes 17 s
    instead of 44 s (the same command, this 2-core machine, no cache)."""
    out = tmp_path / "benchmark.json"
    command = [sys.executable, "-m", "experiments.benchmark", "--smoke", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reference_ips" in result.stdout and "ratio" in result.stdout
    report = json.loads(out.read_text())
    assert report["smoke"] and report["quick"] and report["backend"] in ("cpu", "gpu", "tpu")
    assert {"jax", "flax", "optax"} <= set(report["versions"])
    for row in report["batch"]:
        assert row["loop_ips"] > 0 and row["reference_ips"] > 0
        assert row["ratio"] == pytest.approx(row["loop_ips"] / row["reference_ips"])
    assert report["growth"] and report["peak_memory_mb"] > 0


def test_benchmark_imports_without_hydra():
    code = (
        "import sys; sys.modules['hydra'] = None; sys.modules['omegaconf'] = None\n"
        "import experiments.benchmark, recsim.core.loop, envs, agents\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
