"""A job whose process dies without a word (SIGKILL, the out-of-memory killer) is told apart
from one still running by its directory's lock: `aggregate` reports it `died` and exits 1."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsim.runs import jobs, sweep
from recsim.runs.job import _locked
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
ENV = subprocess_env()


def test_the_lock_is_seen_held_only_while_a_job_holds_it(tmp_path):
    assert not jobs.lock_is_held(tmp_path)  # no lock file
    with _locked(tmp_path):
        assert jobs.lock_is_held(tmp_path)
    assert not jobs.lock_is_held(tmp_path)


def test_a_running_record_whose_lock_is_free_is_died(tmp_path):
    for name in ("0", "1"):
        jobs.write(tmp_path / name, status="running", overrides=[f"seed={name}"], config_hash=name)
    with _locked(tmp_path / "0"):  # job 0 is alive; job 1's process is gone
        entries = sweep.manifest(tmp_path)
    assert [entry["status"] for entry in entries] == ["running", "died"]
    assert entries[1]["error"] == sweep.DIED
    assert sweep.failures(entries) == [entries[1]]
    assert f"DIED job 1: seed=1: {sweep.DIED}" in sweep.describe(entries)
    assert sweep.describe(entries) == f"1 died, 1 running\nDIED job 1: seed=1: {sweep.DIED}"


def aggregate(sweep_dir: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.aggregate", str(sweep_dir)]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_aggregate_tells_a_killed_job_from_a_running_one(tmp_path):
    sweep_dir = tmp_path / "sweep"
    overrides = ["agent=random", "seeds=1", "steps=2000000", "log_every=1000"]
    command = [sys.executable, "-m", "experiments.run", "--multirun",
               f"hydra.sweep.dir={sweep_dir}", *overrides, "compilation_cache=null"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        job_file = sweep_dir / "0" / jobs.JOB_FILE
        deadline = time.monotonic() + 240
        while not (job_file.exists() and json.loads(job_file.read_text())["status"] == "running"):
            assert time.monotonic() < deadline and process.poll() is None, "the job never ran"
            time.sleep(0.2)
        alive = aggregate(sweep_dir)
        assert alive.returncode == 0, alive.stderr
        assert alive.stdout.strip() == f"sweep {sweep_dir}: 1 running"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # no handler runs: no record is written
        process.wait(timeout=60)
    assert json.loads(job_file.read_text())["status"] == "running"  # what the record says
    dead = aggregate(sweep_dir)
    assert dead.returncode == 1
    assert dead.stdout.strip().splitlines() == [
        f"sweep {sweep_dir}: 1 died",
        f"DIED job 0: agent=random seeds=1 steps=2000000 log_every=1000 compilation_cache=null: "
        f"{sweep.DIED}",
    ]
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert [job["status"] for job in manifest["jobs"]] == ["died"]
