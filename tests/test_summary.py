"""summary.csv statistics on a hand-made sweep frame."""

import numpy as np
import pandas as pd
import pytest

from recsim.core.metric_table import METRIC_NAMES
from recsim.runs import sweep


def frame_of(config: str, steps: list[int], values: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for seed, series in values.items():
        for step, value in zip(steps, series, strict=True):
            rows.append({"exploration": config, "seed": seed, "step": step,
                         **{m: value for m in METRIC_NAMES}})  # fmt: skip
    return pd.DataFrame(rows)


def test_final_and_auc_use_each_configurations_own_horizon():
    short = frame_of("a", [10, 20], {0: [1.0, 3.0], 1: [1.0, 5.0]})
    long = frame_of("b", [10, 20, 30], {0: [0.0, 0.0, 6.0], 1: [0.0, 0.0, 6.0]})
    summary = sweep.summarize(pd.concat([short, long], ignore_index=True))
    a = summary.query("exploration == 'a' and metric == 'ctr'").iloc[0]
    b = summary.query("exploration == 'b' and metric == 'ctr'").iloc[0]
    assert a["final_mean"] == pytest.approx(4.0)  # last step of a is 20: (3 + 5) / 2
    # Student-t 95% half-width of [3, 5]: t(0.975, 1) * std / sqrt(2) = 12.706 * 1.4142 / 1.4142
    assert a["final_ci95"] == pytest.approx(12.7062, rel=1e-4)
    assert a["auc_mean"] == pytest.approx(((1 + 3) / 2 + (1 + 5) / 2) / 2)
    # per-seed AUCs 2 and 3: t(0.975, 1) * std([2, 3]) / sqrt(2) = 12.706 * 0.70711 / 1.41421
    assert a["auc_ci95"] == pytest.approx(6.3531, rel=1e-4)
    assert b["auc_ci95"] == 0.0  # both seeds' AUC is 2
    assert list(summary.columns) == ["exploration", "metric", "final_mean", "final_ci95",
                                     "auc_mean", "auc_ci95", "n_seeds"]  # fmt: skip
    assert b["final_mean"] == pytest.approx(6.0) and b["final_ci95"] == 0.0
    assert b["auc_mean"] == pytest.approx(2.0) and a["n_seeds"] == b["n_seeds"] == 2
    assert len(summary) == 2 * len(METRIC_NAMES)
    assert np.isfinite(summary["final_mean"]).all()


def test_the_printed_table_says_not_applicable_for_a_nan_metric():
    from recsim.runs.experiment import format_summary

    summary = pd.DataFrame({
        "metric": ["ctr", "uncertainty_coverage"], "final_mean": [0.25, float("nan")],
        "final_ci95": [0.0125, 0.0],
    })  # fmt: skip
    lines = format_summary(summary).splitlines()
    assert next(line for line in lines if line.startswith("ctr ")).split()[1:] == [
        "0.2500", "±", "0.0125"
    ]  # fmt: skip
    coverage = next(line for line in lines if line.startswith("uncertainty_coverage "))
    assert coverage.split(maxsplit=1)[1].strip() == "not applicable"


@pytest.mark.parametrize(
    ("overrides", "absent"),
    [
        ((), ["new_item_exposure", "new_item_recall", "churn_rate"]),
        (("env.item_churn_rate=0.1",), ["churn_rate"]),
        (("env.patience=3",), ["new_item_exposure", "new_item_recall"]),
        (("grid.env.item_churn_rate=[0.0,0.1]",), ["churn_rate"]),  # on at one grid point
        (("env.item_churn_rate=0.1", "env.patience=3"), []),
    ],
)
def test_a_world_without_a_dynamic_records_its_metrics_as_not_applicable(overrides, absent):
    from experiments.config import build_experiment
    from recsim.runs.experiment import world_not_applicable
    from tests.test_config import composed

    experiment = build_experiment(composed(*overrides))
    assert list(world_not_applicable(experiment.params.env)) == absent


def test_both_worlds_name_the_knobs_and_an_env_without_them_keeps_its_metrics():
    import dataclasses
    from types import SimpleNamespace

    from envs.latent import LatentParams
    from envs.table import TableParams
    from recsim.runs.experiment import world_not_applicable

    for params in (LatentParams, TableParams):  # the real-data worlds' too
        assert {"item_churn_rate", "patience"} <= {f.name for f in dataclasses.fields(params)}
    assert world_not_applicable(SimpleNamespace(drift_rate=np.zeros(2))) == ()
