"""Config composition and validation, through Hydra's compose API (no subprocess)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

import agents
import envs
from agents import exploration as explorations
from experiments.config import build_experiment, register_configs
from recsim.core.registry import Entry, Registry
from recsim.core.validation import ConfigError

CONF = str(Path(__file__).resolve().parents[1] / "conf")
register_configs()


def composed(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


COMBINATIONS = [
    (env, agent, exploration)
    for env in sorted(envs.REGISTRY)
    for agent in sorted(agents.REGISTRY)
    for exploration in sorted(explorations.REGISTRY)
    if env == "latent" or exploration == "greedy"  # a data world: every agent, one strategy
]


@pytest.mark.parametrize("env, agent, exploration", COMBINATIONS)
def test_every_env_agent_and_exploration_config_composes_and_builds(
    env, agent, exploration, data_overrides
):
    overrides = (f"env={env}", f"agent={agent}", f"exploration={exploration}")
    experiment = build_experiment(composed(*overrides, *data_overrides[env]))
    assert experiment.config["env"]["name"] == env
    assert experiment.config["agent"]["name"] == agent
    built = experiment.simulation.agent
    if built.explores:
        assert built.exploration.name == exploration
        assert experiment.config["exploration"]["name"] == exploration
    else:
        assert experiment.config["exploration"] is None


@pytest.mark.parametrize("agent, exploration", [("linucb", "ucb"), ("lints", "thompson")])
def test_linear_agents_bring_their_own_default_exploration(agent, exploration):
    experiment = build_experiment(composed(f"agent={agent}"))
    assert experiment.simulation.agent.exploration.name == exploration
    override = build_experiment(composed(f"agent={agent}", "exploration=greedy"))
    assert override.simulation.agent.exploration.name == "greedy"


def test_defaults_are_the_documented_experiment():
    experiment = build_experiment(composed())
    assert experiment.config["agent"]["name"] == "neural"
    assert experiment.simulation.agent.exploration.name == "epsilon_greedy"
    assert experiment.seeds == tuple(range(8))
    assert experiment.steps == 2000 and experiment.simulation.log_every == 50


def test_overrides_reach_the_experiment():
    experiment = build_experiment(composed("env.slate_size=7", "seeds=3", "seed=11"))
    assert experiment.simulation.env.spec.slate_size == 7
    assert experiment.seeds == (0, 1, 2) and experiment.master_seed == 11


@pytest.mark.parametrize(
    "override, message",
    [
        ("steps=0", "steps=0 is out of range: allowed >= 1"),
        ("seeds=0", "seeds=0 is out of range"),
        ("seed=-1", "seed=-1 is out of range"),
        ("log_every=3000", "log_every=3000 is out of range: allowed 1..2000 (steps)"),
        ("log_every=30", "steps=2000 must be a multiple of log_every=30"),
        ("env.slate_size=201", "env.slate_size=201 is out of range: allowed 1..200 (env.n_items)"),
        ("env.users_per_step=0", "env.users_per_step=0 is out of range"),
        ("env.group_shares=[0.5,0.6]", "env.group_shares=[0.5, 0.6] must sum to 1"),
        ("env.drift_rate=-0.1", "env.drift_rate=-0.1 is out of range"),
        ("exploration.epsilon=1.5", "exploration.epsilon=1.5 is out of range: allowed [0.0, 1.0]"),
        ("exploration=diversity exploration.relevance_weight=2", "exploration.relevance_weight=2"),
        ("exploration=boltzmann exploration.temperature=0", "exploration.temperature=0"),
        ("exploration=ucb exploration.beta=-1", "exploration.beta=-1"),
        (
            "exploration=uncertainty exploration.n_query=6",
            "exploration.n_query=6 is out of range: allowed 0..5 (env.slate_size)",
        ),
        ("agent.n_heads=1", "agent.n_heads=1 must be >= 2 for an ensemble"),
        ("agent.network=cnn", "agent.network='cnn' must be one of ('two_tower', 'mlp')"),
        ("agent.learning_rate=0", "agent.learning_rate=0"),
        ("agent.hidden=[]", "agent.hidden=[] must list at least one layer width"),
        ("agent=linucb agent.ridge=0", "agent.ridge=0"),
        ("agent=lints agent.noise_scale=-0.1", "agent.noise_scale=-0.1 is out of range"),
        ("agent.name=nope", "agent.name='nope' must be one of ('neural', 'linucb', 'lints',"),
        ("exploration.name=nope", "exploration.name='nope' must be one of ('greedy', 'random',"),
        ("env.name=nope", "env.name='nope' must be one of ('latent', 'movielens', 'kuairec')"),
    ],
)
def test_out_of_range_values_are_refused_in_one_line(override, message):
    with pytest.raises(ConfigError) as error:
        build_experiment(composed(*override.split()))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "override", ["steps=abc", "unknown_key=1", "env.unknown=1", "env.n_items=2.5", "agent=nope"]
)
def test_types_and_unknown_keys_are_caught_by_the_schema(override):
    with pytest.raises(ConfigCompositionException):
        composed(override)


def test_registry_lookup_and_registration_errors():
    registry = Registry("thing", [Entry("a", None, print), Entry("b", None, print)])
    assert registry.names() == ("a", "b") and list(registry) == ["a", "b"] and len(registry) == 2
    assert registry.get("b", "thing.name") is registry["b"] and "a" in registry
    with pytest.raises(ConfigError, match=r"^thing\.name='c' must be one of \('a', 'b'\)$"):
        registry.get("c", "thing.name")
    with pytest.raises(ValueError, match="'a' is registered twice"):
        Registry("thing", [Entry("a", None, print), Entry("a", None, print)])
    with pytest.raises(TypeError, match="must default to the component's name"):
        Entry.of(int, print)


@pytest.mark.parametrize(
    "overrides, key, schema",
    [
        (["+foo=1"], "foo", "RunConfig"),
        (["+exploration.epsilonn=0.5"], "exploration.epsilonn", "EpsilonGreedyConfig"),
        (["agent=oracle", "+agent.learning_rate=0.1"], "agent.learning_rate", "OracleConfig"),
        (["+grid.bogus=[1,2]"], "grid.bogus", "GridConfig"),
    ],
)
def test_a_key_added_with_plus_that_no_schema_has_is_refused(overrides, key, schema):
    with pytest.raises(ConfigError, match=rf"^{key}: unknown key \(not in {schema}\)"):
        build_experiment(composed(*overrides))


def test_presets_add_no_unknown_key():
    build_experiment(composed("+experiment=compare_exploration"))


@pytest.mark.parametrize("group, name", [("agent", "neural"), ("exploration", "ucb")])
def test_schemas_are_not_options_of_their_group(group, name):
    with pytest.raises(ConfigCompositionException, match=f"{group}/{name}_schema"):
        composed(f"{group}={name}_schema")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        from hydra.core.global_hydra import GlobalHydra

        options = GlobalHydra.instance().config_loader().get_group_options(group)
    assert name in options and not any("schema" in option for option in options)


@pytest.mark.parametrize(
    "overrides, label",
    [
        ([], "latent-neural-epsilon_greedy"),
        (["agent=oracle"], "latent-oracle"),
        (["agent=linucb"], "latent-linucb-ucb"),
        (["agent=best_fixed", "exploration=ucb"], "latent-best_fixed"),
    ],
)
def test_run_directory_names_a_strategy_only_for_learning_agents(overrides, label):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    run_dir = cfg.hydra.run.dir
    assert run_dir.split("/")[1] == label
