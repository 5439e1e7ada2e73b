"""In-graph grids: numeric knobs as a vmap axis, one compile, same numbers as one at a time."""

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from experiments.config import build_experiment, register_configs
from recsim.core import loop
from recsim.core.validation import ConfigError

CONF = str(Path(__file__).resolve().parents[1] / "conf")
SMALL = ["env.n_items=50", "env.n_users=200", "steps=60", "log_every=20", "seeds=2"]
register_configs()


def experiment(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return build_experiment(compose(config_name="config", overrides=[*SMALL, *overrides]))


def run(exp):
    return loop.run(
        exp.simulation,
        exp.batched_params(),
        exp.master_seed,
        exp.simulation_seeds(),
        exp.steps,
        batched=True,
    )


def test_grid_axes_form_a_cartesian_product_of_traced_params():
    exp = experiment(
        "grid.exploration.epsilon=[0.0,0.1,0.2]", "grid.agent.learning_rate=[0.01,0.001]"
    )
    assert len(exp.grid) == 6
    assert exp.grid[0] == {"agent.learning_rate": 0.01, "exploration.epsilon": 0.0}
    # every point's label, in the order of the params below (the last axis varies fastest)
    assert list(exp.grid) == [
        {"agent.learning_rate": rate, "exploration.epsilon": epsilon}
        for rate in (0.01, 0.001)
        for epsilon in (0.0, 0.1, 0.2)
    ]
    epsilon = exp.params.agent.exploration.epsilon
    np.testing.assert_allclose(epsilon, [0.0, 0.1, 0.2, 0.0, 0.1, 0.2])
    np.testing.assert_allclose(exp.params.agent.learning_rate, [0.01] * 3 + [0.001] * 3)
    assert exp.n_simulations == 12 and exp.simulation_seeds() == [0, 1] * 6
    assert exp.config["grid"] == {
        "agent.learning_rate": [0.01, 0.001],
        "exploration.epsilon": [0.0, 0.1, 0.2],
    }


def test_no_grid_is_one_point():
    exp = experiment()
    assert exp.grid == ({},) and exp.config["grid"] == {}


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["grid.env.n_items=[50,100]"], "grid.env.n_items=[50, 100] changes shapes or code"),
        (["grid.agent.update_every=[1,4]"], "sweep it with --multirun instead"),
        (["grid.agent.hidden=[[8],[16]]"], "grid.agent.hidden"),
        (["grid.exploration.beta=[1,2]"], "exploration=epsilon_greedy has no key 'beta'"),
        (["agent=oracle", "grid.exploration.epsilon=[0.1]"], "agent=oracle does not explore"),
        (["grid.exploration.epsilon=[0.1,1.5]"], "exploration.epsilon=1.5 is out of range"),
        (["grid.env.drift_rate=[]"], "grid.env.drift_rate=[] must list at least one value"),
        (["grid.env.group_shares=[[0.5,0.5],[0.9,0.1]]"], "grid values must be single numbers"),
    ],
)
def test_bad_grids_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ConfigError) as error:
        experiment(*overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_structural_axis_message_points_to_multirun():
    with pytest.raises(ConfigError) as error:
        experiment("grid.env.n_items=[50,100]")
    assert "`--multirun env.n_items=50,100`" in str(error.value)


def test_grid_results_equal_the_same_settings_run_one_at_a_time():
    grid = run(experiment("grid.exploration.epsilon=[0.0,0.3]", "grid.env.drift_rate=[0.0,0.1]"))
    assert grid.traces == 1
    order = [(0.0, 0.0), (0.0, 0.3), (0.1, 0.0), (0.1, 0.3)]  # (drift, epsilon), env axis first
    for index, (drift, epsilon) in enumerate(order):
        alone = run(experiment(f"exploration.epsilon={epsilon}", f"env.drift_rate={drift}"))
        rows = slice(2 * index, 2 * index + 2)  # this grid point's two seeds
        np.testing.assert_array_equal(grid.rows["clicks"][rows], alone.rows["clicks"])
        np.testing.assert_allclose(
            grid.rows["expected_ctr"][rows], alone.rows["expected_ctr"], rtol=1e-5
        )


def test_simulations_are_laid_out_grid_point_major():
    """Simulation g·S + s is grid point g with seed s. (The grid has the axes and shape of
    the one above: the same compiled program.)"""
    exp = experiment("grid.exploration.epsilon=[0.0,1.0]", "grid.env.drift_rate=[0.0,0.1]")
    result = run(exp)
    assert [point["exploration.epsilon"] for point in exp.grid] == [0.0, 1.0, 0.0, 1.0]
    assert exp.simulation_seeds() == [0, 1] * 4
    assert not np.array_equal(result.rows["clicks"][:2], result.rows["clicks"][2:4])
    for index, point in enumerate(exp.grid):  # ε = 1 explores every slot, ε = 0 none
        explored = result.rows["explore_fraction"][2 * index : 2 * index + 2]
        assert np.all(explored == point["exploration.epsilon"]), (index, point)
