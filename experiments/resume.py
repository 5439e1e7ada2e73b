"""What an interrupted run tells the user from the command line: what was kept, and the
command that goes on."""

import shlex
from pathlib import Path


def interrupted_note(run_dir: Path, sweep_dir: Path | None, argv: list[str]) -> str:
    """`kept: …; resume: <command>` for a run (or sweep job) stopped in `run_dir`: the command
    line as given (`argv`, without the program), into the same run (or sweep) directory; or
    `kept: nothing` when nothing was kept."""
    from recsim.runs import checkpoint

    kept = []
    if sweep_dir is not None:
        kept.append("the sweep's completed jobs (merged)")
    saved = checkpoint.latest(run_dir)
    if saved is not None:
        total = saved.steps_done * saved.n_chunks // saved.chunks_done
        kept.append(f"its checkpoint after step {saved.steps_done} of {total}")
    if not kept:
        return "kept: nothing"
    key, directory = ("hydra.sweep.dir", sweep_dir) if sweep_dir else ("hydra.run.dir", run_dir)
    arguments = [arg for arg in argv if not arg.startswith(f"{key}=")]
    command = shlex.join(["python", "-m", "experiments.run", *arguments, f"{key}={directory}"])
    return f"kept: {' and '.join(kept)}; resume: {command}"
