"""Usage errors of `python -m experiments.run` in one line, exit 2, before Hydra runs anything.

Hydra reports a bad override (an unknown key, an option a group does not have, a value of the
wrong type) in 7–21 lines with exit 1 and suggests `+key=value`, which would add a key that
nothing uses. `preflight` composes the command's overrides once with Hydra's compose API and
turns such an error into one line naming the key, the value and what is allowed.
"""

import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

CONF = Path(__file__).resolve().parents[1] / "conf"
HYDRA_FLAGS = ("-h", "--help", "--hydra-help", "--info", "-i", "--cfg", "-c", "--resolve",
               "--package", "-p", "--shell-completion", "-sc", "-m", "--multirun",
               "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
               "--experimental-rerun", "--version")  # fmt: skip


def describe(error: Exception) -> str:
    """One line for a composition error of Hydra / OmegaConf."""
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


def preflight(argv: list[str]) -> None:
    """Composes a single run's overrides; on a usage error prints one line and exits 2.
    Sweeps (`--multirun`) and Hydra's own flags are left to Hydra and the sweep callback."""
    if any(arg in HYDRA_FLAGS or arg.split("=")[0] in HYDRA_FLAGS for arg in argv):
        return
    overrides = [arg for arg in argv if not arg.lstrip("+~").startswith("hydra")]
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException, OverrideParseException) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        sys.exit(2)
