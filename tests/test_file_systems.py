"""Real file systems that refuse writes (a read-only mount, a full disk): one line each,
naming the path, and a true record where one can be written. The mounts are tmpfs; a machine
where mounting is not permitted skips these tests and says why (`/proc` stands in for a
read-only location in tests/test_entry_point.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recsim.runs import jobs
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
TINY = ["steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100"]
pytestmark = pytest.mark.slow


def entry_point(module: str, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", module, *arguments]
    return subprocess.run(
        command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )


def mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")


@pytest.fixture
def mounts(tmp_path):
    """Mounts tmpfs file systems under tmp_path for the test, unmounted after it."""
    made = []

    def mount(name: str, options: str) -> Path:
        path = tmp_path / name
        mount_tmpfs(path, options)
        made.append(path)
        return path

    yield mount
    for path in made:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def test_a_read_only_mount_is_refused_in_one_line_for_runs_sweeps_and_caches(mounts, tmp_path):
    read_only = mounts("ro", "ro,size=1m")
    cases = [
        (["experiments.run", f"hydra.run.dir={read_only}/run"],
         f"hydra.run.dir={read_only}/run: {read_only} is not writable"),
        (["experiments.run", "--multirun", f"hydra.sweep.dir={read_only}/sweep", "seed=1,2"],
         f"hydra.sweep.dir={read_only}/sweep: {read_only} is not writable"),
        (["experiments.run", f"hydra.run.dir={tmp_path}/run", f"compilation_cache={read_only}/c"],
         f"compilation_cache={read_only}/c: Read-only file system"),
    ]  # fmt: skip
    for arguments, message in cases:
        result = entry_point(*arguments, *TINY)
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {message}")
        assert "Traceback" not in result.stderr
    assert list(read_only.iterdir()) == [] and not (tmp_path / "run").exists()


def test_aggregating_a_sweep_on_a_read_only_mount_is_one_line(mounts):
    sweep_dir = mounts("sweep", "size=1m")
    jobs.write(sweep_dir / "0", status="failed", overrides=["seed=1"], config_hash="x", error="e")
    remount_read_only(sweep_dir)
    result = entry_point("experiments.aggregate", str(sweep_dir))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: sweep_dir={sweep_dir}: cannot write the merged results "
        f"(Read-only file system: {sweep_dir / 'manifest.json'})"
    )
    assert sorted(p.name for p in sweep_dir.rglob("*")) == ["0", "job.json"]


def test_a_full_disk_fails_the_job_in_one_line_naming_the_file(mounts):
    run_dir = mounts("full", "size=300k") / "run"
    result = entry_point("experiments.run", f"hydra.run.dir={run_dir}", *TINY)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: run failed: [Errno 28] No space left on device: '{run_dir / 'curves.png'}'"
    )
    record = json.loads((run_dir / "job.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["error"]
    assert record["error"] == (
        f"OSError: [Errno 28] No space left on device: '{run_dir / 'curves.png'}'"
    )
    assert record["overrides"] == TINY  # the task overrides (not hydra.*)
    assert not (run_dir / "COMPLETED").exists()
    assert not [path for path in run_dir.iterdir() if path.name.endswith(".tmp")]
