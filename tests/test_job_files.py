"""A job that is refused or skipped leaves every file of a completed job as it was: results,
records and Hydra's `.hydra/` files alike (byte for byte, modification times included)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
# figures=false: each job's curves.png (drawn where a test reads it)
TINY = ["steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
        "figures=false"]  # fmt: skip
pytestmark = pytest.mark.slow


def entry_point(*arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.run", *arguments, *TINY]
    return subprocess.run(
        command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `directory`: its bytes and modification time (ns)."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_a_single_run_replaces_another_configs_result_only_with_overwrite(tmp_path):
    """Refused (exit 2, one line), the completed run dir is left as it was, file for file; the
    same configuration may run again; `overwrite=true` replaces the result."""
    run_dir = tmp_path / "run"
    first = entry_point(f"hydra.run.dir={run_dir}", "agent=random")
    assert first.returncode == 0, first.stderr[-2000:]
    overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    assert overrides == ["agent=random", *TINY]
    assert yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["agent"]["name"] == (
        "random"
    )
    kept = (run_dir / "metrics.parquet").read_bytes()
    before = snapshot(run_dir)
    assert {".hydra/config.yaml", ".hydra/hydra.yaml", "job.json", "run.json"} <= set(before)
    refused = entry_point(f"hydra.run.dir={run_dir}", "agent=popularity")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {run_dir} holds the completed result of another configuration; pass "
        "overwrite=true to replace it, or choose another hydra.run.dir"
    ]
    assert snapshot(run_dir) == before
    assert entry_point(f"hydra.run.dir={run_dir}", "agent=random").returncode == 0  # the same
    assert (run_dir / "metrics.parquet").read_bytes() == kept
    replaced = entry_point(f"hydra.run.dir={run_dir}", "agent=popularity", "overwrite=true")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert (run_dir / "metrics.parquet").read_bytes() != kept
    assert json.loads((run_dir / "run.json").read_text())["config"]["agent"]["name"] == (
        "popularity"
    )


def test_a_resumed_or_refused_sweep_leaves_completed_jobs_untouched(tmp_path):
    sweep_dir = tmp_path / "sweep"
    first = entry_point("--multirun", f"hydra.sweep.dir={sweep_dir}", "agent=random,oracle")
    assert first.returncode == 0, first.stderr[-2000:]
    jobs = {name: snapshot(sweep_dir / name) for name in ("0", "1")}
    assert all(".hydra/overrides.yaml" in files for files in jobs.values())

    resumed = entry_point("--multirun", f"hydra.sweep.dir={sweep_dir}", "agent=random,oracle")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("skipped: ") == 2
    assert {name: snapshot(sweep_dir / name) for name in ("0", "1")} == jobs

    reordered = entry_point("--multirun", f"hydra.sweep.dir={sweep_dir}", "agent=oracle,random")
    assert reordered.returncode != 0
    assert "holds the completed result of another configuration" in reordered.stderr
    assert {name: snapshot(sweep_dir / name) for name in ("0", "1")} == jobs


def test_a_single_run_that_turns_nan_fails_in_one_line_and_leaves_only_its_record(tmp_path):
    """A divergent learning rate makes the network's predictions NaN: exit 1, one line on
    stderr naming the metric, the seed and the step, and nothing in the run dir but job.json
    (status failed) and traceback.txt (issue 17 item 5)."""
    run_dir = tmp_path / "run"
    result = entry_point(f"hydra.run.dir={run_dir}", "agent.learning_rate=1e30")
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error:") and "is nan" in lines[0], lines[0]
    assert re.search(r"seed=\d+ step=\d+", lines[0]), lines[0]
    # Beside Hydra's own files (.hydra/, its log run.log) and the run dir's lock file: the
    # record and the traceback, no result file.
    names = {path.name for path in run_dir.iterdir()} - {".hydra", "run.log", ".lock"}
    assert names == {"job.json", "traceback.txt"}, names
    record = json.loads((run_dir / "job.json").read_text())
    assert record["status"] == "failed" and "is nan" in record["error"]
    assert "Traceback" in (run_dir / "traceback.txt").read_text()
