"""The strategy axis: `grid.exploration.name=[…]` runs several strategies in one compiled
program, with the same slates as each strategy run on its own."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from experiments.config import build_experiment, register_configs
from recsim.core import loop
from recsim.core.metric_table import COUNT_NAMES, METRIC_NAMES
from recsim.core.validation import ConfigError
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
SMALL = ["agent=neural", "env.n_items=50", "env.n_users=200", "steps=60", "log_every=20",
         "seeds=2"]  # fmt: skip
# One of each kind: a per-slot coin (ε-greedy), a deterministic bonus (UCB), the agent's
# ensemble draw (Thompson), Gumbel noise and no closed-form marginals (Boltzmann).
STRATEGIES = ["epsilon_greedy", "ucb", "thompson", "boltzmann"]
register_configs()


def experiment(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return build_experiment(compose(config_name="config", overrides=[*SMALL, *overrides]))


def run(exp):
    return loop.run(exp.simulation, exp.batched_params(), exp.master_seed,
                    exp.simulation_seeds(), exp.steps, batched=True)  # fmt: skip


@pytest.mark.slow
def test_one_program_shows_each_strategy_the_slates_it_shows_alone():
    together = experiment(f"grid.exploration.name=[{','.join(STRATEGIES)}]")
    assert [point["exploration"] for point in together.grid] == STRATEGIES
    assert together.simulation_seeds() == [0, 1] * len(STRATEGIES)
    result = run(together)
    assert result.compiles == {"init": 1, "chunk": 1, "run": 0}  # one program for all
    seeds = len(together.seeds)
    for index, name in enumerate(STRATEGIES):
        alone = run(experiment(f"exploration={name}")).rows
        part = slice(index * seeds, (index + 1) * seeds)
        for metric in COUNT_NAMES:  # integer counts: the same slates and clicks
            np.testing.assert_array_equal(result.rows[metric][part], alone[metric], metric)
        for metric in METRIC_NAMES:
            np.testing.assert_allclose(result.rows[metric][part], alone[metric], rtol=1e-5,
                                       atol=1e-6, err_msg=f"{name} {metric}")  # fmt: skip


def test_the_selected_strategy_keeps_its_knobs_and_the_others_their_defaults():
    exp = experiment("exploration=epsilon_greedy", "exploration.epsilon=0.5",
                     "grid.exploration.name=[greedy,epsilon_greedy,boltzmann]")  # fmt: skip
    switch = exp.params.agent.exploration
    np.testing.assert_array_equal(switch.which, [0, 1, 2])
    _, epsilon, boltzmann = switch.members
    np.testing.assert_allclose(epsilon.epsilon, [0.5] * 3)  # the configured ε
    np.testing.assert_allclose(boltzmann.temperature, [0.05] * 3)  # BoltzmannConfig's default
    assert exp.simulation.agent.exploration.name == "switch(greedy,epsilon_greedy,boltzmann)"
    assert exp.config["grid"] == {"exploration.name": ["greedy", "epsilon_greedy", "boltzmann"]}
    assert "exploration=['greedy', 'epsilon_greedy', 'boltzmann']" in exp.title


def test_it_combines_with_numeric_axes_of_other_groups():
    exp = experiment("grid.exploration.name=[greedy,ucb]", "grid.agent.learning_rate=[0.01,0.1]")
    assert len(exp.grid) == 4 and exp.n_simulations == 8
    # axes in group order (env, agent, exploration), the last varying fastest
    np.testing.assert_array_equal(exp.params.agent.exploration.which, [0, 1, 0, 1])
    np.testing.assert_allclose(exp.params.agent.learning_rate, [0.01, 0.01, 0.1, 0.1])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["grid.exploration.name=[greedy,nope]"],
         "grid.exploration.name='nope' must be one of"),
        (["grid.exploration.name=[greedy,greedy]"], "lists a strategy twice"),
        (["agent=random", "grid.exploration.name=[greedy,ucb]"],
         "grid.exploration.name: agent=random does not explore"),
        (["grid.exploration.name=[greedy,epsilon_greedy]", "grid.exploration.epsilon=[0.1,0.2]"],
         "grid.exploration.epsilon with grid.exploration.name"),
    ],
)  # fmt: skip
def test_a_bad_strategy_axis_is_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as error:
        experiment(*overrides)
    assert "\n" not in str(error.value)


PRESET = ["exploration", "greedy", "random", "epsilon_greedy", "diversity", "uncertainty",
          "boltzmann", "ucb", "thompson"]  # fmt: skip


@pytest.mark.slow
def test_the_compare_exploration_preset_is_one_program_with_its_comparison(tmp_path):
    """Issue 16 item 3: the preset runs all eight strategies in one compiled program and
    writes what its sweep wrote: a strategy column, summary.csv and compare.csv."""
    command = [sys.executable, "-m", "experiments.run", "+experiment=compare_exploration",
               "steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
               "figures=false", f"hydra.run.dir={tmp_path}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    strategies = PRESET[1:]
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["grid_points"] == 8 and info["traces"] == 1
    assert info["compiles"] == {"init": 1, "chunk": 1, "run": 0}
    assert info["config"]["grid"] == {"exploration.name": strategies}
    frame = pd.read_parquet(tmp_path / "metrics.parquet")
    assert frame.columns[0] == "exploration" and len(frame) == 8 * 2 * 2
    assert list(dict.fromkeys(frame["exploration"])) == strategies
    explored = frame.groupby("exploration")["explore_fraction"].mean()
    assert explored["greedy"] == 0.0 and explored["random"] == 1.0  # each ran its strategy
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary["exploration"]) == set(strategies)
    absent = summary["metric"].isin(["new_item_exposure", "new_item_recall", "churn_rate"])
    assert (summary.loc[~absent, "n_seeds"] == 2).all() and (
        summary.loc[absent, "n_seeds"] == 0
    ).all()
    row = summary.query("exploration == 'ucb' and metric == 'ctr'")
    final = frame.query("exploration == 'ucb' and step == 20")["ctr"].mean()
    assert row["final_mean"].item() == pytest.approx(final)
    table = pd.read_csv(tmp_path / "compare.csv")
    assert set(table["exploration"]) == set(strategies) - {"greedy"}
    assert (table["baseline"] == "exploration=greedy").all() and (table["n_seeds"] == 2).all()
    ucb = table.query("exploration == 'ucb' and metric == 'ctr' and measure == 'final'")
    greedy = frame.query("exploration == 'greedy' and step == 20")["ctr"].mean()
    assert ucb["diff"].item() == pytest.approx(final - greedy, abs=1e-6)
    assert "exploration" in done.stdout


def test_a_baseline_off_the_strategy_axis_is_refused():
    with pytest.raises(ConfigError, match="nope is not on the grid axis exploration"):
        experiment("grid.exploration.name=[greedy,ucb]", "baseline='exploration=nope'")
    # A key that is not a grid column is a sweep's baseline: not this run's to check.
    axis = "grid.exploration.name=[greedy,ucb]"
    assert experiment(axis, "baseline='agent=neural'").baseline is None
    assert experiment(axis, "baseline='exploration=ucb'").baseline == "exploration=ucb"
