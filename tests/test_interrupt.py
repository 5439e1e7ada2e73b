"""Process-level endings of a job, through a real subprocess and a real signal: every way a
job ends leaves a true record and one line on stderr."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
# `compilation_cache=null` runs (no cache of the user's) still share this test run's cache.
ENV = subprocess_env()


def start(*overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "experiments.run", *overrides, "compilation_cache=null",
               "figures=false"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=hear_ctrl_c,
    )  # fmt: skip


def hear_ctrl_c() -> None:
    """In the child: SIGINT raises KeyboardInterrupt even when the suite itself was started in
    the background (a shell's `&` makes SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_status(job_file: Path, status: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job_file.exists() and json.loads(job_file.read_text()).get("status") == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{job_file} never said {status}")


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_merges_what_completed(tmp_path):
    sweep_dir = tmp_path / "sweep"
    process = start(
        "--multirun", f"hydra.sweep.dir={sweep_dir}", "seeds=1", "log_every=100",
        "steps=100,20000",
    )  # fmt: skip
    wait_for_status(sweep_dir / "1" / "job.json", "running")
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"interrupted: {sweep_dir / '1'}")
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert [job["status"] for job in manifest["jobs"]] == ["completed", "interrupted"]
    assert (sweep_dir / "summary.csv").exists()


def test_an_unwritable_compilation_cache_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "experiments.run", f"hydra.run.dir={run_dir}",
               f"compilation_cache={blocker}/cache", "steps=50", "log_every=50"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: compilation_cache={blocker}/cache:")
    assert not run_dir.exists()


@pytest.mark.slow
def test_a_busy_dir_is_refused_and_ctrl_c_records_interrupted_exits_130_in_one_line(tmp_path):
    """A second run into a dir another run is writing is refused; Ctrl-C then stops the first:
    exit 130, one line saying what was kept, job.json `interrupted`, no result files."""
    run_dir = tmp_path / "run"
    first = start(f"hydra.run.dir={run_dir}", "seeds=2", "steps=20000", "log_every=100")
    wait_for_status(run_dir / "job.json", "running")
    command = [sys.executable, "-m", "experiments.run", f"hydra.run.dir={run_dir}",
               "steps=50", "log_every=50", "compilation_cache=null"]  # fmt: skip
    second = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=240)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"error: {run_dir} is being written by another run now; wait for it, or choose "
        "another hydra.run.dir"
    ]
    assert first.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        f"interrupted: {run_dir} holds no result (job.json: interrupted); kept: nothing"
    ]
    assert json.loads((run_dir / "job.json").read_text())["status"] == "interrupted"
    assert not (run_dir / "COMPLETED").exists() and not (run_dir / "metrics.parquet").exists()


LOST_INTERRUPT = """
import signal, sys
from recsim.runs import interrupt
interrupt.install()

class Collected:
    def __del__(self):  # Ctrl-C arriving inside a callback whose exceptions Python ignores
        interrupt._handler(signal.SIGINT, None)

class Other:
    def __del__(self):
        raise ValueError("not an interrupt")

Collected()
Other()
try:
    interrupt.check()
except KeyboardInterrupt:
    print("stopped at the next check", file=sys.stderr)
"""


def test_a_lost_ctrl_c_prints_no_traceback_and_other_unraisables_still_do():
    """Seen in CI: SIGINT landed in JAX's garbage-collection callback, and Python printed the
    lost KeyboardInterrupt as "Exception ignored … Traceback" above the run's one line."""
    done = subprocess.run([sys.executable, "-c", LOST_INTERRUPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert "KeyboardInterrupt" not in done.stderr, done.stderr
    assert "ValueError: not an interrupt" in done.stderr  # other unraisables are still shown
    assert lines[-1] == "stopped at the next check"
