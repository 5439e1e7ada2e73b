"""Recommenders. `REGISTRY` maps an agent's name to its `Entry` (`recsim.core.registry`):
config class and `make(config, spec) -> (agent, params)`, the config validated inside.

Learning agents (`explores = True`, the `agents.scoring.ScoringAgent`s) score the catalogue and
let an exploration strategy (`agents.exploration`) choose the slate. Their factory returns them
exploring greedily; the strategy chosen by the `exploration` config group is built by its own
factory and composed in by `with_exploration`:

    agent, params = with_exploration(
        REGISTRY.get(agent_config.name, "agent.name").make(agent_config, spec),
        exploration.REGISTRY.get(strategy_config.name, "exploration.name").make(
            strategy_config, spec),
    )

Baselines (`explores = False`) come back from `with_exploration` unchanged: they ignore the
`exploration` group. A new agent is one module (config with `name` defaulting to the agent's
name, agent class, `make`), one `Entry.of` line below and one YAML in `conf/agent/`; a
learning agent subclasses `ScoringAgent` and works with every strategy.
"""

from agents import best_fixed, linear, neural, oracle, popularity, random_slate
from agents.scoring import ScoringAgent, with_exploration
from recsim.core.registry import Entry, Registry

REGISTRY = Registry(
    "agent",
    [
        Entry.of(neural.NeuralConfig, neural.make),
        Entry.of(linear.LinearConfig, linear.make),
        Entry.of(linear.LinTSConfig, linear.make),
        Entry.of(oracle.OracleConfig, oracle.make),
        Entry.of(best_fixed.BestFixedConfig, best_fixed.make),
        Entry.of(random_slate.RandomAgentConfig, random_slate.make),
        Entry.of(popularity.PopularityConfig, popularity.make),
        Entry.of(popularity.PopularityClicksConfig, popularity.make_clicks),
    ],
)

BASELINES = ("oracle", "best_fixed", "random", "popularity", "popularity_clicks")
"""Names of the agents whose class has `explores = False` (they ignore the `exploration`
group); `tests/test_agents.py` checks the two agree."""

__all__ = ["BASELINES", "REGISTRY", "ScoringAgent", "with_exploration"]
