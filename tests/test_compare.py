"""Paired comparisons to a baseline (`recsim.runs.compare`, compare.csv): hand-computed
statistics, Holm's adjustment, the pairing rule and its refusals, and the aggregate CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsim.core.metric_table import METRIC_NAMES
from recsim.runs import compare, sweep
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def test_holm_by_hand():
    adjusted = compare.holm(np.array([0.01, 0.04, 0.03, np.nan, 0.5]))
    # sorted: 0.01·4 = 0.04, 0.03·3 = 0.09, 0.04·2 = 0.08 -> 0.09 (running max), 0.5·1 = 0.5
    np.testing.assert_allclose(adjusted, [0.04, 0.09, 0.09, np.nan, 0.5])
    assert compare.holm(np.array([0.6, 0.7]))[1] == 1.0  # capped at 1


def test_a_forest_of_a_family_without_rows_says_not_applicable():
    from recsim.figures import forest

    table = pd.DataFrame({"exploration": ["ucb"], "baseline": ["exploration=greedy"],
                          "metric": ["ctr"], "measure": ["final"], "diff": [0.1],
                          "ci_t_low": [0.0], "ci_t_high": [0.2], "ci_boot_low": [0.0],
                          "ci_boot_high": [0.2]})  # fmt: skip
    empty = forest(table, "exploration", ["new_item_exposure", "new_item_recall"])
    texts = [text.get_text() for ax in empty.axes for text in ax.texts]
    assert texts == ["not applicable: no paired difference of\nnew_item_exposure, new_item_recall"]
    drawn = forest(table, "exploration", ["ctr", "new_item_recall"])
    assert (
        len(drawn.axes) == 1 and drawn.axes[0].get_xlabel() == "Δ final CTR (clicks / impression)"
    )


def test_paired_statistics_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    baseline = np.array([0.5, 1.5, 2.0, 4.5])
    result = compare.paired_stats(x, baseline)
    # d = [0.5, 0.5, 1.0, -0.5]: mean 0.375, sd = √(1.1875 / 3) = 0.629153
    assert result["diff"] == pytest.approx(0.375)
    half = 3.182446305 * 0.629153 / 2  # t_{0.975, 3} · sd / √4
    assert result["ci_t_low"] == pytest.approx(0.375 - half, abs=1e-5)
    assert result["ci_t_high"] == pytest.approx(0.375 + half, abs=1e-5)
    t = 0.375 / (0.629153 / 2)  # 1.19208: two-sided p of Student's t with 3 df
    assert result["p_value"] == pytest.approx(0.31890, abs=1e-4) and t == pytest.approx(
        1.19208, abs=1e-4
    )
    # var(x) = 5/3, var(baseline) = 8.6875/3, var(d) = 1.1875/3
    assert result["variance_reduction"] == pytest.approx((5 + 8.6875) / 1.1875)
    assert result["mean"] == 2.5 and result["baseline_mean"] == 2.125 and result["n_seeds"] == 4


def test_the_bootstrap_interval_is_reproducible_and_near_the_t_interval():
    rng = np.random.default_rng(3)
    world = rng.normal(size=30)  # shared by both: what common random numbers cancel
    x, baseline = world + 0.2 + 0.1 * rng.normal(size=30), world + 0.1 * rng.normal(size=30)
    first, again = compare.paired_stats(x, baseline), compare.paired_stats(x, baseline)
    assert first == again
    assert first["ci_boot_low"] < first["diff"] < first["ci_boot_high"]
    t_width = first["ci_t_high"] - first["ci_t_low"]
    boot_width = first["ci_boot_high"] - first["ci_boot_low"]
    assert 0.7 < boot_width / t_width < 1.3
    assert first["variance_reduction"] > 20  # var(world) = 1 against 2·0.01 of the noise


def test_degenerate_differences():
    same = compare.paired_stats(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert same["p_value"] == 1.0 and same["ci_t_low"] == same["ci_t_high"] == 0.0
    shifted = compare.paired_stats(np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    assert shifted["p_value"] == 0.0 and shifted["ci_boot_low"] == 1.0
    assert math.isinf(shifted["variance_reduction"])
    one = compare.paired_stats(np.array([2.0]), np.array([1.0]))
    assert one["diff"] == 1.0 and math.isnan(one["p_value"])


def sweep_frame(**columns) -> pd.DataFrame:
    """Rows of a sweep: every combination of `columns` values × seeds 0..3 × steps 10, 20;
    each metric = seed + (index of the configuration) + step / 100."""
    names = list(columns)
    combos = pd.MultiIndex.from_product(list(columns.values()), names=names).to_frame(index=False)
    rows = []
    for index, combo in combos.iterrows():
        for seed in range(4):
            for step in (10, 20):
                value = seed + index + step / 100
                rows.append({**combo.to_dict(), "seed": seed, "step": step,
                             **dict.fromkeys(METRIC_NAMES, value)})  # fmt: skip
    return pd.DataFrame(rows)


def test_each_configuration_is_paired_with_the_baseline_that_agrees_on_the_rest():
    frame = sweep_frame(agent=["linucb", "neural"], exploration=["greedy", "ucb"])
    table = compare.compare(frame, ["agent", "exploration"], "exploration=greedy")
    compared = table[["agent", "exploration"]].drop_duplicates().values.tolist()
    assert compared == [["linucb", "ucb"], ["neural", "ucb"]]
    final = table[(table.metric == "ctr") & (table.measure == "final")].set_index("agent")
    # configuration indices: linucb/greedy 0, linucb/ucb 1, neural/greedy 2, neural/ucb 3
    assert final.loc["linucb", "diff"] == 1.0 and final.loc["neural", "diff"] == 1.0
    assert final.loc["neural", "baseline_mean"] == pytest.approx(2 + 1.5 + 0.2)
    auc = table[(table.metric == "ctr") & (table.measure == "auc")].set_index("agent")
    assert auc.loc["neural", "mean"] == pytest.approx(3 + 1.5 + 0.15)
    assert len(table) == 2 * len(METRIC_NAMES) * 2


def test_a_single_baseline_is_paired_with_every_configuration():
    frame = sweep_frame(exploration=["greedy", "ucb", "random"])
    table = compare.compare(frame, ["exploration"], "exploration=greedy")
    ctr = table[(table.metric == "ctr") & (table.measure == "final")].set_index("exploration")
    assert ctr["diff"].to_dict() == {"ucb": 1.0, "random": 2.0}
    assert (table["baseline"] == "exploration=greedy").all()


def test_numeric_grid_values_match_the_baseline():
    frame = sweep_frame(**{"exploration.epsilon": [0.0, 0.05, 0.1]})
    table = compare.compare(frame, ["exploration.epsilon"], "exploration.epsilon=0")
    assert sorted(table["exploration.epsilon"].unique()) == [0.05, 0.1]


@pytest.mark.parametrize(
    "columns, baseline, message",
    [
        ({"exploration": ["greedy", "ucb"]}, "agent=neural",
         "baseline key 'agent' does not vary in this sweep (varying: exploration)"),
        ({"exploration": ["greedy", "ucb"]}, "exploration=thompson",
         "baseline exploration=thompson: no configuration has it (exploration: greedy, ucb)"),
        ({"exploration": ["greedy", "ucb"]}, "exploration",
         "baseline='exploration': expected KEY=VALUE, e.g. exploration=greedy"),
        ({"exploration": ["greedy"], "env.drift_rate": [0.0, 0.1]}, "exploration=greedy",
         "baseline key 'exploration' does not vary in this sweep (varying: env.drift_rate)"),
    ],
)  # fmt: skip
def test_a_comparison_that_cannot_be_made_is_refused_in_one_line(columns, baseline, message):
    frame = sweep_frame(**columns)
    with pytest.raises(compare.CompareError) as refused:
        compare.compare(frame, sweep.configuration_columns(frame), baseline)
    assert str(refused.value) == message


def test_only_the_same_world_and_the_same_seeds_are_paired():
    frame = sweep_frame(exploration=["greedy", "ucb"], **{"env.drift_rate": [0.0, 0.1]})
    frame = frame[~((frame.exploration == "greedy") & (frame["env.drift_rate"] == 0.1))]
    with pytest.raises(compare.CompareError, match=r"its world differs from the baseline's "
                       r"\(env.drift_rate=0.0\); pair only within the same world"):  # fmt: skip
        compare.compare(frame, ["exploration", "env.drift_rate"], "exploration=greedy")
    frame = sweep_frame(exploration=["greedy", "ucb"])
    frame = frame[~((frame.exploration == "ucb") & (frame.seed == 3))]
    with pytest.raises(compare.CompareError, match=r"seeds \[0, 1, 2\] differ from the "
                       r"baseline's \[0, 1, 2, 3\]"):  # fmt: skip
        compare.compare(frame, ["exploration"], "exploration=greedy")


def test_metrics_a_configuration_does_not_measure_are_left_out():
    frame = sweep_frame(agent=["random", "neural"])
    frame.loc[frame.agent == "random", "prediction_mae"] = np.nan
    table = compare.compare(frame, ["agent"], "agent=random")
    assert "prediction_mae" not in set(table["metric"]) and "ctr" in set(table["metric"])


def run(module: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip


@pytest.mark.slow
def test_a_sweep_with_a_baseline_writes_compare_csv_and_forest_plots(tmp_path):
    sweep_dir, figures = tmp_path / "sweep", tmp_path / "figures"
    # figures=false: each job's curves.png (the forest plots are drawn)
    tiny = ["steps=20", "log_every=10", "seeds=3", "env.n_items=30", "env.n_users=100",
            "figures=false"]  # fmt: skip
    result = run("experiments.run", "--multirun", f"hydra.sweep.dir={sweep_dir}",
                 "exploration=greedy,random", "baseline='exploration=greedy'", *tiny)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(sweep_dir / "compare.csv")
    assert set(table["exploration"]) == {"random"} and (table["n_seeds"] == 3).all()
    assert json.loads((sweep_dir / "manifest.json").read_text())["baseline"] == (
        "exploration=greedy"
    )
    frame = pd.read_parquet(sweep_dir / "sweep.parquet")
    last = frame[frame.step == frame.step.max()].pivot(index="seed", columns="exploration",
                                                       values="cum_regret")  # fmt: skip
    row = table[(table.metric == "cum_regret") & (table.measure == "final")].iloc[0]
    assert row["diff"] == pytest.approx((last["random"] - last["greedy"]).mean(), rel=1e-6)

    shown = run("experiments.aggregate", str(sweep_dir), "--baseline", "exploration=greedy",
                "--figures", str(figures))  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert (figures / "compare_accuracy.png").is_file()
    # The default world has no item churn: the cold-start family's forest says so.
    assert "new_item_exposure" not in set(table["metric"])
    assert (figures / "compare_cold_start.png").is_file()

    refused = run("experiments.aggregate", str(sweep_dir), "--baseline", "agent=neural")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: --baseline agent=neural: baseline key 'agent' does not vary in this sweep "
        "(varying: exploration)"
    )
    plain = run("experiments.aggregate", str(sweep_dir))
    assert plain.returncode == 0 and not (sweep_dir / "compare.csv").exists()  # not stale


def test_float32_rounding_is_no_difference_and_older_sweeps_compare():
    """A metric the agent cannot change (e.g. user_homogeneity) differs by float32 noise."""
    world = np.array([0.0312, 0.0455, 0.0217, 0.0389], np.float32).astype(np.float64)
    noise = np.array([1e-9, -3e-9, 2e-9, 0.0])
    tied = compare.paired_stats(world + noise, world)
    assert tied["p_value"] == 1.0  # no difference, not a certain one
    assert tied["ci_t_low"] == tied["ci_t_high"] == tied["diff"]
    older = sweep_frame(exploration=["greedy", "ucb"]).drop(columns=["calibration_error"])
    table = compare.compare(older, ["exploration"], "exploration=greedy")
    assert "calibration_error" not in set(table["metric"]) and "ctr" in set(table["metric"])
