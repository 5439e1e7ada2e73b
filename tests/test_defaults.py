"""Defaults live in one place, the config dataclasses (the Hydra schema): every option of the
`env`, `agent` and `exploration` groups composes to its dataclass's defaults, except the keys
its YAML states — and a YAML states only keys of the schema, with values that are not the
defaults (so YAML and dataclass cannot drift apart)."""

import dataclasses
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import agents
import envs
from agents import exploration as explorations
from experiments.config import register_configs

CONF = Path(__file__).resolve().parents[1] / "conf"
REGISTRIES = {"env": envs.REGISTRY, "agent": agents.REGISTRY, "exploration": explorations.REGISTRY}
OPTIONS = [
    (group, path.stem) for group in REGISTRIES for path in sorted((CONF / group).glob("*.yaml"))
]
register_configs()


def stated(group: str, option: str) -> dict:
    """The keys and values the option's YAML states (its `defaults` list left out)."""
    text = yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}
    return {key: value for key, value in text.items() if key != "defaults"}


def composed(group: str, option: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"{group}={option}"])
    return OmegaConf.to_container(cfg[group], resolve=True)


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_every_registered_name_has_one_yaml_and_every_yaml_a_name(group):
    assert sorted(path.stem for path in (CONF / group).glob("*.yaml")) == sorted(REGISTRIES[group])


@pytest.mark.parametrize("group, option", OPTIONS)
def test_yaml_extends_its_schema(group, option):
    text = yaml.safe_load((CONF / group / f"{option}.yaml").read_text())
    assert text["defaults"][0] == f"/schema/{group}/{option}@_here_"


@pytest.mark.parametrize("group, option", OPTIONS)
def test_composed_option_is_the_dataclass_defaults_but_the_stated_keys(group, option):
    entry = REGISTRIES[group][option]
    defaults = dataclasses.asdict(entry.config_class())
    overrides = stated(group, option)
    unknown = set(overrides) - set(defaults)
    assert not unknown, f"{group}/{option}.yaml states keys its schema lacks: {sorted(unknown)}"
    assert composed(group, option) == {**defaults, **overrides}
    assert composed(group, option)["name"] == option  # the name comes from the schema


@pytest.mark.parametrize("group, option", OPTIONS)
def test_yaml_states_no_default(group, option):
    defaults = dataclasses.asdict(REGISTRIES[group][option].config_class())
    repeated = {key for key, value in stated(group, option).items() if defaults[key] == value}
    assert not repeated, f"{group}/{option}.yaml repeats dataclass defaults: {sorted(repeated)}"
