"""Usage errors of `python -m experiments.run` in one line, exit 2, before Hydra runs anything.

Hydra reports a bad override (an unknown key, an option a group does not have, a value of the
wrong type) in 7–21 lines with exit 1 and suggests `+key=value`, which would add a key that
nothing uses. `preflight` composes the command's overrides once with Hydra's compose API and
turns such an error into one line naming the key, the value and what is allowed; an output
directory that cannot be written (under a file, read-only, /proc) is refused the same way.
"""

import os
import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

CONF = Path(__file__).resolve().parents[1] / "conf"
HYDRA_FLAGS = ("-h", "--help", "--hydra-help", "--info", "-i", "--cfg", "-c", "--resolve",
               "--package", "-p", "--shell-completion", "-sc", "-m", "--multirun",
               "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
               "--experimental-rerun", "--version")  # fmt: skip
INFO_FLAGS = ("-h", "--help", "--hydra-help", "--info", "-i")
MULTIRUN_FLAGS = ("-m", "--multirun")
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def describe(error: Exception) -> str:
    """One line for a composition error of Hydra / OmegaConf."""
    if isinstance(error, OverrideParseException):
        reason = error.message.splitlines()[0].strip()
        return f"{error.override}: not a valid override ({reason}); see {GRAMMAR}"
    cause = error.__cause__ or error
    text = str(error)
    missing = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
    if isinstance(error, MissingConfigException) and missing:
        group, option = missing.groups()
        options = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], re.M)
        return f"{group}={option}: no such option; choose one of {', '.join(options)}"
    unknown = re.search(r"Key '([^']+)' not in '(\w+)'", str(cause))
    full_key = re.search(r"full_key: (\S+)", str(cause))
    if unknown and full_key:
        return f"{full_key.group(1)}: unknown key (not in {unknown.group(2)})"
    value = re.search(r"Value '([^']*)' of type '\w+' could not be converted to (\w+)", str(cause))
    if value and full_key:
        return f"{full_key.group(1)}={value.group(1)}: not a valid {value.group(2)}"
    return " ".join(line.strip() for line in str(cause).splitlines() if line.strip())


def output_error(argv: list[str]) -> str | None:
    """Why the run or sweep directory of the command cannot be written, or None.

    Checked on the nearest existing ancestor of `hydra.run.dir` / `hydra.sweep.dir` (the
    current directory when neither is given): it must be a writable directory.
    """
    keys = ("hydra.run.dir", "hydra.sweep.dir")
    given = {arg.split("=", 1)[0]: arg.split("=", 1)[1] for arg in argv if arg.startswith(keys)}
    for key, value in given.items() or [("the current directory", ".")]:
        path = Path(value).expanduser().absolute()
        ancestor = path
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"{key}={value}: {ancestor} is a file, not a directory"
        if not os.access(ancestor, os.W_OK | os.X_OK) or _read_only(ancestor):
            return f"{key}={value}: {ancestor} is not writable"
    return None


def _read_only(path: Path) -> bool:
    """A read-only file system (root passes `os.access` there; /proc and /sys are too)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY) or path.parts[1:2] in (
            ("proc",),
            ("sys",),
        )
    except OSError:
        return True


def preflight(argv: list[str], config_name: str = "config") -> None:
    """Checks that the output directory can be written and composes the command's overrides
    (for a sweep, those that are not swept, as Hydra composes the sweep's own config); on a
    usage error prints one line and exits 2. Each job of a sweep is checked by the sweep
    callback; commands with Hydra's other flags are left to Hydra."""
    if any(arg in INFO_FLAGS for arg in argv):  # they run nothing and write nothing
        return
    problem = output_error(argv)
    if problem:
        print(f"error: {problem}; choose a writable directory", file=sys.stderr)
        sys.exit(2)
    multirun = any(arg in MULTIRUN_FLAGS for arg in argv)
    flags = [arg for arg in argv if arg in HYDRA_FLAGS or arg.split("=")[0] in HYDRA_FLAGS]
    if any(flag not in MULTIRUN_FLAGS for flag in flags):
        return
    overrides = [arg for arg in argv if arg not in MULTIRUN_FLAGS]
    overrides = [arg for arg in overrides if not arg.lstrip("+~").startswith("hydra")]
    try:
        if multirun:
            parsed = OverridesParser.create().parse_overrides(overrides=overrides)
            swept = [override.is_sweep_override() for override in parsed]
            overrides = [arg for arg, sweep in zip(overrides, swept, strict=True) if not sweep]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException, OverrideParseException) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        sys.exit(2)
