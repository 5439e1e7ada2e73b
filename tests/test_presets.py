"""Every scenario preset in `conf/experiment/`: composes, builds every job of its sweep, and
sets the world it promises (no test table to update when a preset is added)."""

from pathlib import Path

import pytest

from experiments.config import build_experiment
from experiments.scenarios import distinct_jobs, sweep_jobs
from tests.test_config import CONF, composed

PRESETS = sorted(path.stem for path in (Path(CONF) / "experiment").glob("*.yaml"))
SCENARIOS = {
    "static": {"drift_rate": 0.0, "boredom_penalty": 0.0, "item_churn_rate": 0.0, "patience": 0.0},
    "cold_start": {"item_churn_rate": 0.05, "item_churn_every": 50},
    "leaving_users": {"patience": 3.0},
    "cascade": {"click_model": "cascade"},
    "choice": {"click_model": "mnl"},
    "filter_bubble": {"drift_rate": 0.05},
}


def test_the_scenarios_of_the_world_issue_exist():
    assert set(SCENARIOS) <= set(PRESETS)


DATA_WORLDS = {"movielens_exploration": "movielens"}
"""The presets on a real-data world (they are given its data: `data_overrides`)."""


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds_with_every_agent_of_its_sweep(preset, data_overrides):
    """Each agent of the sweep once (with the first strategy), and every strategy with the
    first agent: every config the sweep composes passes through one of these (the entry point
    also pre-validates every job before a sweep runs)."""
    jobs = sweep_jobs(preset)
    data = data_overrides[DATA_WORLDS.get(preset, "latent")]
    if jobs == [[]]:  # a single run (e.g. an in-graph grid)
        experiment = build_experiment(composed(f"+experiment={preset}", *data))
        if preset in DATA_WORLDS:
            assert experiment.config["env"]["name"] == DATA_WORLDS[preset]
            assert len(experiment.grid) == 8 and len(experiment.seeds) == 16
            # the preset's strategies, in its order (greedy first: the baseline), 16 seeds
            assert experiment.grid == tuple({"exploration": name} for name in (
                "greedy", "random", "epsilon_greedy", "diversity", "uncertainty", "boltzmann",
                "ucb", "thompson"))  # fmt: skip
            assert experiment.seeds == tuple(range(16))
            assert experiment.baseline == "exploration=greedy"
        return
    firsts = {job[0] for job in jobs}
    chosen = [next(job for job in jobs if job[0] == first) for first in sorted(firsts)]
    chosen += [job for job in jobs if job[0] == jobs[0][0]][1:]
    for job in chosen:
        experiment = build_experiment(composed(f"+experiment={preset}", *job))
        for key, value in SCENARIOS.get(preset, {}).items():
            assert experiment.config["env"][key] == value, (preset, key)
    if preset in SCENARIOS:  # the comparison presets: every strategy and every baseline
        assert firsts == {"agent=neural", "agent=oracle", "agent=best_fixed", "agent=random",
                          "agent=popularity"}  # fmt: skip
        assert len({job[1] for job in jobs}) == 8


def test_distinct_jobs_name_learners_by_strategy_and_baselines_by_agent():
    jobs = distinct_jobs(sweep_jobs("cold_start"))
    assert "neural/ucb" in jobs and "best_fixed" in jobs and "neural/greedy" in jobs
    assert len(jobs) == 8 + 4
    assert jobs["best_fixed"] == ["agent=best_fixed", "exploration=greedy"]
