"""Checkpoints: a run stopped at any point and resumed gives the uninterrupted run's numbers bit
for bit, in process and through the real entry point with a real SIGKILL and a real Ctrl-C."""

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from experiments.config import build_experiment, register_configs
from recsim.core import loop
from recsim.runs import checkpoint, results
from recsim.runs.job import ForeignResultError, SetupChangedError, run_job
from tests.conftest import simulation, subprocess_env
from tests.test_interrupt import hear_ctrl_c

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
SMALL = ["env.n_items=50", "env.n_users=200", "steps=200", "log_every=20", "seeds=2",
         "figures=false"]  # fmt: skip
ENV = subprocess_env()
register_configs()


def experiment(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return build_experiment(compose(config_name="config", overrides=[*SMALL, *overrides]))


def host(tree):
    """Every leaf as a NumPy array (keys as their raw data), to compare bit for bit."""

    def leaf(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        return np.asarray(x)

    return jax.tree.map(leaf, tree)


def assert_same_bits(a, b):
    for x, y in zip(jax.tree.leaves(host(a)), jax.tree.leaves(host(b)), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


class Stop(Exception):
    """Stands for the process dying after a checkpoint."""


@pytest.mark.parametrize("agent", ["neural", "linucb"])
def test_a_run_resumed_from_any_checkpoint_ends_bit_for_bit_as_the_uninterrupted_one(
    tmp_path, agent
):
    sim, params = simulation(agent, log_every=5, windows_per_chunk=2)
    compiled = loop.compile_run(sim, params, 3, range(3), 40)  # 4 chunks
    whole = compiled.execute()
    rows_info = {name: values.dtype for name, values in whole.rows.items()}
    for stop_after in (1, 2, 3):
        run_dir = tmp_path / f"stop{stop_after}"

        def save_then_die(done, carry, rows, run_dir=run_dir, stop_after=stop_after):
            steps_done = done * compiled.steps_per_chunk
            meta = checkpoint.Meta("hash", done, 4, steps_done, checkpoint.key_impl(carry), {})
            checkpoint.save(run_dir, meta, carry, rows)
            if done == stop_after:
                raise Stop

        with pytest.raises(Stop):
            compiled.execute(after_chunk=save_then_die)
        meta = checkpoint.latest(run_dir)
        resume = checkpoint.restore(run_dir, meta, compiled.carry_info, rows_info)
        assert (meta.chunks_done, meta.steps_done) == (stop_after, stop_after * 10)
        assert resume.rows["ctr"].shape == (3, 2 * stop_after)
        resumed = compiled.execute(resume=resume)
        assert resumed.resumed_at == stop_after
        assert_same_bits(resumed.rows, whole.rows)
        assert_same_bits(resumed.final_carry, whole.final_carry)
        assert resumed.compiles["run"] == 0  # the restored carry fits the compiled chunk


def test_one_checkpoint_is_kept_and_a_half_written_one_is_not_a_checkpoint(tmp_path):
    sim, params = simulation("random", log_every=5, windows_per_chunk=2)
    compiled = loop.compile_run(sim, params, 0, range(2), 40)
    saved = []

    def save(done, carry, rows):
        meta = checkpoint.Meta("h", done, 4, done * 10, checkpoint.key_impl(carry), {})
        checkpoint.save(tmp_path, meta, carry, rows)
        saved.append(sorted(path.name for path in (tmp_path / checkpoint.DIR).iterdir()))

    compiled.execute(after_chunk=save)
    assert saved == [["1"], ["2"], ["3"]]  # never after the last chunk
    assert checkpoint.latest(tmp_path).chunks_done == 3
    # What a process killed while saving or deleting leaves is never read, and the next save
    # clears it: an Orbax temporary directory, a half-deleted step (no metadata file), a
    # discarded one; a damaged newest step is skipped for the one before.
    directory = tmp_path / checkpoint.DIR
    (directory / "4.orbax-checkpoint-tmp-1764200000" / "state").mkdir(parents=True)
    (directory / "5" / "state").mkdir(parents=True)
    (directory / f"{checkpoint.DISCARDED}2-0000").mkdir()
    assert checkpoint.latest(tmp_path).chunks_done == 3
    (directory / "6").mkdir()
    (directory / "6" / checkpoint.METADATA_FILE).write_text("{}")  # metadata, but no items
    assert checkpoint.latest(tmp_path).chunks_done == 3
    save(7, compiled.init(compiled.master, compiled.seed_ids, compiled.params),
         {"ctr": np.zeros((2, 6), np.float32)})  # fmt: skip
    assert sorted(path.name for path in directory.iterdir()) == ["7"]
    checkpoint.remove(tmp_path)
    assert checkpoint.latest(tmp_path) is None
    assert not [path for path in tmp_path.iterdir() if checkpoint.DIR in path.name]


def interrupted_job(run_dir, exp, stop_after, sweep_dir=None, monkeypatch=None):
    """Runs the job with a checkpoint after every chunk, stopped by Ctrl-C after
    `stop_after` checkpoints (KeyboardInterrupt raised from the save)."""
    real_save = checkpoint.save

    def save_then_interrupt(run_dir, meta, carry, rows):
        real_save(run_dir, meta, carry, rows)
        if meta.chunks_done == stop_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_job(exp, run_dir, ["(test)"], sweep_dir, progress=False)
    monkeypatch.setattr(checkpoint, "save", real_save)


def test_a_job_resumes_its_own_checkpoint_and_refuses_another_configs(tmp_path, monkeypatch):
    exp = experiment("checkpoint_every=2")
    assert exp.checkpoint_every == 2 and "checkpoint_every" not in exp.config
    assert results.config_hash(exp.config) == results.config_hash(experiment().config)
    whole = run_job(experiment(), tmp_path / "whole", ["(test)"], progress=False)

    sweep_dir = tmp_path / "sweep"
    run_dir = sweep_dir / "0"
    interrupted_job(run_dir, exp, 4, sweep_dir, monkeypatch)
    assert json.loads((run_dir / "job.json").read_text())["status"] == "interrupted"
    assert checkpoint.latest(run_dir).chunks_done == 4

    other = experiment("checkpoint_every=2", "seed=1")
    with pytest.raises(ForeignResultError, match="the checkpoint of an unfinished run"):
        run_job(other, run_dir, ["(test)"], sweep_dir, progress=False)
    with pytest.raises(ForeignResultError):  # a single run too, unless told to overwrite
        run_job(other, run_dir, ["(test)"], progress=False)
    assert checkpoint.latest(run_dir).chunks_done == 4  # untouched

    resumed = run_job(exp, run_dir, ["(test)"], sweep_dir, progress=False)
    assert resumed.status == "completed"
    assert resumed.output.info["resumed_at_chunk"] == 4
    assert whole.output.info["resumed_at_chunk"] == 0
    assert resumed.output.info["config_hash"] == whole.output.info["config_hash"]
    assert resumed.output.frame.equals(whole.output.frame)
    assert not (run_dir / checkpoint.DIR).exists()  # a completed run keeps no checkpoint

    interrupted_job(tmp_path / "single", exp, 2, monkeypatch=monkeypatch)
    replaced = run_job(other, tmp_path / "single", ["(test)"], progress=False, overwrite=True)
    assert replaced.output.info["resumed_at_chunk"] == 0  # the other config's state was dropped


def test_a_checkpoint_made_under_another_setup_is_refused(tmp_path, monkeypatch):
    exp = experiment("checkpoint_every=2")
    interrupted_job(tmp_path / "run", exp, 2, monkeypatch=monkeypatch)
    saved_setup = checkpoint.latest(tmp_path / "run").setup
    assert saved_setup == checkpoint.setup() and saved_setup["devices"]
    here = saved_setup["backend"]
    other = "gpu" if here == "cpu" else "cpu"  # (the suite also runs on a GPU)
    elsewhere = {**saved_setup, "devices": [f"{other}:0"], "backend": other}
    monkeypatch.setattr(checkpoint, "setup", lambda: elsewhere)
    with pytest.raises(SetupChangedError, match=rf"backend: {here} → {other}; devices: \['"):
        run_job(exp, tmp_path / "run", ["(test)"], progress=False)
    with pytest.raises(SetupChangedError):
        run_job(exp, tmp_path / "run", ["(test)"], tmp_path, progress=False)  # in a sweep
    started_again = run_job(exp, tmp_path / "run", ["(test)"], progress=False, overwrite=True)
    assert started_again.output.info["resumed_at_chunk"] == 0


def test_a_checkpoint_left_beside_a_completed_result_is_removed(tmp_path, monkeypatch):
    """A process that died between writing COMPLETED and removing its checkpoint."""
    exp = experiment("checkpoint_every=2")
    sweep_dir = tmp_path / "sweep"
    interrupted_job(tmp_path / "saved", exp, 2, monkeypatch=monkeypatch)
    run_job(exp, sweep_dir / "0", ["(test)"], sweep_dir, progress=False)
    (tmp_path / "saved" / checkpoint.DIR).rename(sweep_dir / "0" / checkpoint.DIR)
    again = run_job(exp, sweep_dir / "0", ["(test)"], sweep_dir, progress=False)
    assert again.status == "skipped"
    assert not checkpoint.has_checkpoint(sweep_dir / "0")


def test_resume_finds_the_latest_checkpoint_of_the_same_configuration(tmp_path, monkeypatch):
    def fake(name, config_hash, saved_at):
        run_dir = tmp_path / name
        step = run_dir / checkpoint.DIR / "3"
        step.mkdir(parents=True)
        os.utime(step, (saved_at, saved_at))
        return run_dir

    old, new, foreign = fake("a", "h1", 1e9), fake("b", "h1", 2e9), fake("c", "h2", 3e9)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    hashes = {old: "h1", new: "h1", foreign: "h2"}

    def latest(run_dir):
        if run_dir not in hashes:
            return None
        return checkpoint.Meta(hashes[run_dir], 3, 10, 300, "threefry2x32", {})

    monkeypatch.setattr(checkpoint, "latest", latest)
    assert checkpoint.find_resumable(fresh, "h1") == new
    assert checkpoint.find_resumable(old, "h1") == old  # the run dir itself first
    assert checkpoint.find_resumable(fresh, "h2") == foreign
    assert checkpoint.find_resumable(fresh, "h3") is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("checkpoint_every=-1", "checkpoint_every=-1 is out of range: allowed 0..9 (this run "
                                "has 10 chunks of 20 steps; 0: off)"),
        ("checkpoint_every=10", "checkpoint_every=10 is out of range: allowed 0..9"),
    ],
)  # fmt: skip
def test_a_checkpoint_interval_the_run_cannot_use_is_refused(override, message):
    from recsim.core.validation import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        experiment(override)


# Through the entry point: a run long enough to be killed between checkpoints: 20 chunks of 20
# steps (as many chunks as 1,000 steps in chunks of 50 gave, each run about 5 s shorter).
STEPS = 400
RUN = ["env.n_items=200", "seeds=2", f"steps={STEPS}", "log_every=10", "compilation_cache=null",
       "figures=false"]  # fmt: skip


def entry_point(*overrides, **popen):
    command = [sys.executable, "-m", "experiments.run", *overrides]
    return subprocess.Popen(command, cwd=ROOT, env=ENV, text=True, **popen)


def finish(*overrides) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.run", *overrides]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def wait_for_checkpoint(run_dir: Path, at_least: int, process, timeout=300.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        directory = run_dir / checkpoint.DIR
        done = [int(p.name) for p in directory.iterdir() if p.name.isdigit()] if (
            directory.is_dir()) else []  # fmt: skip
        if done and max(done) >= at_least:
            return max(done)
        assert process.poll() is None, "the run ended before its checkpoint"
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint {at_least} in {run_dir}")


def wait_for_a_save_in_progress(run_dir: Path, process, until_checkpoint: int) -> str:
    """Returns as soon as an Orbax temporary directory exists (a save half-written), or, if
    none is seen by then, once checkpoint `until_checkpoint` exists; says which."""
    directory = run_dir / checkpoint.DIR
    while True:
        names = [path.name for path in directory.iterdir()]
        if any("tmp" in name for name in names):
            return "killed while saving"
        if any(name.isdigit() and int(name) >= until_checkpoint for name in names):
            return "killed between saves"
        assert process.poll() is None, "the run ended before it was killed"
        time.sleep(0.002)


def killed(overrides, watched: Path, at_least: int) -> int:
    """Runs the entry point with `overrides`, SIGKILLs it (no handler runs, nothing is tidied)
    once `watched` holds checkpoint `at_least`, and returns the chunks its checkpoint kept."""
    process = entry_point(*overrides, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)  # fmt: skip
    try:
        wait_for_checkpoint(watched, at_least, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return checkpoint.latest(watched).chunks_done


def assert_resumed_identically(run_dir: Path, chunks_done: int, uninterrupted: Path) -> None:
    """The run in `run_dir` continued from `chunks_done` (it did not start again) and its
    metrics are the uninterrupted run's, byte for byte."""
    assert json.loads((run_dir / "run.json").read_text())["resumed_at_chunk"] == chunks_done
    expected = (uninterrupted / "metrics.parquet").read_bytes()
    assert (run_dir / "metrics.parquet").read_bytes() == expected


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    done = finish(*RUN, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr
    return run_dir


@pytest.mark.slow
def test_a_run_killed_by_sigkill_resumes_to_identical_metrics(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    overrides = [*RUN, "checkpoint_every=1", f"hydra.run.dir={run_dir}"]
    process = entry_point(*overrides, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)  # fmt: skip
    try:
        wait_for_checkpoint(run_dir, 6, process)
        saving = wait_for_a_save_in_progress(run_dir, process, until_checkpoint=14)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # no handler runs, nothing is tidied
        process.wait(timeout=60)
    assert not (run_dir / "COMPLETED").exists(), "killed too late: the run had completed"
    killed_at = checkpoint.latest(run_dir).chunks_done
    assert 6 <= killed_at < 20, saving

    resumed = finish(*overrides)  # the same command again
    assert resumed.returncode == 0, resumed.stderr
    assert_resumed_identically(run_dir, killed_at, uninterrupted)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["config_hash"] == json.loads((uninterrupted / "run.json").read_text())[
        "config_hash"]  # fmt: skip
    assert not (run_dir / checkpoint.DIR).exists()


@pytest.mark.slow
def test_ctrl_c_says_what_was_kept_and_its_resume_command_resumes(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    overrides = [*RUN, "checkpoint_every=2", f"hydra.run.dir={run_dir}"]
    process = entry_point(*overrides, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          preexec_fn=hear_ctrl_c)  # fmt: skip
    wait_for_checkpoint(run_dir, 4, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 130, stderr
    saved = checkpoint.latest(run_dir)
    line = stderr.strip().splitlines()[-1]
    prefix = (f"interrupted: {run_dir} holds no result (job.json: interrupted); kept: its "
              f"checkpoint after step {saved.steps_done} of {STEPS}; resume: ")  # fmt: skip
    assert line.startswith(prefix), line
    command = shlex.split(line.removeprefix(prefix))
    assert command[:3] == ["python", "-m", "experiments.run"]
    assert command[-1] == f"hydra.run.dir={run_dir}"

    resumed = finish(*command[3:])
    assert resumed.returncode == 0, resumed.stderr
    assert saved.chunks_done > 0
    assert_resumed_identically(run_dir, saved.chunks_done, uninterrupted)


@pytest.mark.slow
def test_resume_true_continues_the_latest_run_of_the_configuration(tmp_path, uninterrupted):
    outputs = tmp_path / "outputs"
    first = outputs / "first"
    killed_at = killed([*RUN, "checkpoint_every=1", f"hydra.run.dir={first}"], first, 3)

    resumed = finish(*RUN, "resume=true", f"hydra.run.dir={outputs / 'second'}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"results: {first}" in resumed.stdout
    assert not (outputs / "second").exists()  # the new dir was not used, and not left behind
    assert_resumed_identically(first, killed_at, uninterrupted)

    nothing = finish(*RUN, "resume=true", "seed=5", f"hydra.run.dir={outputs / 'third'}")
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == (
        f"error: resume=true: no checkpoint of this configuration in {outputs / 'third'} or "
        f"beside it in {outputs}; run without resume=true (checkpoint_every=N saves one every "
        "N chunks)"
    )
    assert not (outputs / "third").exists()
    # Pointed at an existing run with nothing to resume, it leaves every file as it was.
    before = {path: path.stat().st_mtime_ns for path in first.rglob("*")}
    nothing = finish(*RUN, "resume=true", "seed=5", f"hydra.run.dir={first}")
    assert nothing.returncode == 2
    assert {path: path.stat().st_mtime_ns for path in first.rglob("*")} == before


@pytest.mark.slow
def test_a_killed_sweep_run_again_resumes_its_job_from_the_checkpoint(tmp_path, uninterrupted):
    sweep_dir = tmp_path / "sweep"
    overrides = ["--multirun", f"hydra.sweep.dir={sweep_dir}", *RUN, "checkpoint_every=1",
                 "agent=random,neural"]  # fmt: skip
    killed_at = killed(overrides, sweep_dir / "1", 5)

    again = finish(*overrides)
    assert again.returncode == 0, again.stderr
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert [job["status"] for job in manifest["jobs"]] == ["completed", "completed"]
    assert_resumed_identically(sweep_dir / "1", killed_at, uninterrupted)


def test_a_lost_ctrl_c_stops_the_run_at_the_next_chunk(tmp_path, monkeypatch):
    """A KeyboardInterrupt raised inside a callback whose exceptions Python ignores (JAX's
    garbage-collection callback) is lost; the request is remembered, and the run stops
    before its next chunk, recorded `interrupted`."""
    from recsim.runs import interrupt

    with contextlib.suppress(KeyboardInterrupt):  # the handler's raise, swallowed
        interrupt._handler(signal.SIGINT, None)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_job(experiment(), tmp_path / "run", ["(test)"], progress=False)
    finally:
        interrupt.REQUESTED.clear()
    assert json.loads((tmp_path / "run" / "job.json").read_text())["status"] == "interrupted"
    interrupt.check()  # cleared: nothing raised
