"""Every top-level key of the run config is documented where a user looks: the README's table
of top-level keys, `--help`, and conf/config.yaml."""

import dataclasses
import re
from pathlib import Path

from experiments.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"env", "agent", "exploration", "grid"}  # config groups, documented with their options
KEYS = [field.name for field in dataclasses.fields(RunConfig) if field.name not in GROUPS]


def test_the_readme_table_lists_every_top_level_key():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Top-level keys", 1)[1].split("\n\n", 2)[1]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert set(KEYS) <= set(documented), sorted(set(KEYS) - set(documented))


def test_help_and_the_default_config_list_every_top_level_key():
    config = (ROOT / "conf" / "config.yaml").read_text()
    help_keys = config.split("== Top-level keys ==", 1)[1].split("==", 1)[0]
    listed = re.findall(r"^      ([a-z_]+) ", help_keys, flags=re.MULTILINE)
    assert [key for key in listed if key in KEYS] == KEYS and set(KEYS) <= set(listed)
    defaults = re.findall(r"^([a-z_]+):", config, flags=re.MULTILINE)
    assert set(KEYS) <= set(defaults), sorted(set(KEYS) - set(defaults))
