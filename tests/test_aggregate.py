"""Merging a sweep whose jobs' files are damaged: the damaged job is marked, the rest merged,
no stale merged file is left beside the new manifest."""

import json

import numpy as np
import pandas as pd

from experiments import aggregate
from recsim.core.metric_table import METRIC_NAMES
from recsim.runs import jobs, results
from tests.test_summary import frame_of

VALUES = {0: [0.1, 0.2], 1: [0.3, 0.4]}  # every metric of seed s at steps 10 and 20
T_975_1 = 12.7062  # t(0.975, 1 degree of freedom): the 95% half-width factor of 2 seeds


def completed_job(sweep_dir, number: int, exploration: str, corrupt: bool = False,
                  values=VALUES) -> None:  # fmt: skip
    job_dir = sweep_dir / str(number)
    jobs.write(job_dir, status="completed", overrides=[f"exploration={exploration}"],
               config_hash=f"hash-{exploration}")  # fmt: skip
    frame = frame_of(exploration, [10, 20], values).drop(columns="exploration")
    results.write_parquet(job_dir / "metrics.parquet", frame)
    if corrupt:
        (job_dir / "metrics.parquet").write_bytes(b"PAR1 not really a parquet file")
    results.mark_completed(job_dir)


def manifest(sweep_dir) -> dict[str, str]:
    entries = json.loads((sweep_dir / "manifest.json").read_text())["jobs"]
    return {entry["job"]: entry["status"] for entry in entries}


def test_a_corrupt_job_is_marked_and_the_rest_merged(tmp_path, capsys):
    completed_job(tmp_path, 0, "greedy")
    completed_job(tmp_path, 1, "ucb", corrupt=True)
    assert aggregate.main([str(tmp_path)]) == 1
    assert manifest(tmp_path) == {"0": "completed", "1": "corrupt"}
    merged = pd.read_parquet(tmp_path / "sweep.parquet")
    assert set(merged["job"]) == {"0"}
    # job 0's rows as written, labelled with its job, config hash and override value
    expected = frame_of("greedy", [10, 20], VALUES)
    expected.insert(0, "job", "0")
    expected.insert(1, "config_hash", "hash-greedy")
    pd.testing.assert_frame_equal(merged, expected)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"sweep {tmp_path}: 1 completed, 1 corrupt" and len(lines) == 2
    assert lines[1].startswith(
        f"CORRUPT job 1: exploration=ucb: {tmp_path / '1' / 'metrics.parquet'} unreadable: "
    )


def test_no_stale_merged_file_survives_when_nothing_is_readable(tmp_path):
    completed_job(tmp_path, 0, "greedy")
    assert aggregate.main([str(tmp_path)]) == 0
    assert (tmp_path / "summary.csv").exists()
    (tmp_path / "0" / "metrics.parquet").write_bytes(b"damaged")
    assert aggregate.main([str(tmp_path)]) == 1
    assert manifest(tmp_path) == {"0": "corrupt"}
    for name in ("sweep.parquet", "summary.csv", "curves.png"):
        assert not (tmp_path / name).exists(), name


def test_an_unreadable_job_record_is_corrupt(tmp_path):
    completed_job(tmp_path, 0, "greedy")
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / jobs.JOB_FILE).write_text("{ not json")
    assert aggregate.main([str(tmp_path)]) == 1
    assert manifest(tmp_path) == {"0": "completed", "1": "corrupt"}


def test_a_sweep_run_before_a_metric_existed_still_merges_compares_and_plots(tmp_path):
    # ucb: seed 0 at 0.1, 0.25 and seed 1 at 0.3, 0.5 (greedy: 0.1, 0.2 and 0.3, 0.4)
    ucb = {0: [0.1, 0.25], 1: [0.3, 0.5]}
    for number, (exploration, values) in enumerate((("greedy", VALUES), ("ucb", ucb))):
        completed_job(tmp_path, number, exploration, values=values)
        path = tmp_path / str(number) / "metrics.parquet"
        older = pd.read_parquet(path).drop(columns=["calibration_error", "uncertainty_coverage"])
        results.write_parquet(path, older)
    figures = tmp_path / "figures"
    assert aggregate.main([str(tmp_path), "--baseline", "exploration=greedy",
                           "--figures", str(figures)]) == 0  # fmt: skip
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert "calibration_error" not in set(summary["metric"]) and "ctr" in set(summary["metric"])
    kept = [m for m in METRIC_NAMES if m not in ("calibration_error", "uncertainty_coverage")]
    assert list(summary["metric"]) == kept * 2
    assert list(summary["exploration"]) == ["greedy"] * len(kept) + ["ucb"] * len(kept)
    # final: the step-20 values' mean over seeds; auc: the mean over seeds of each seed's mean
    # over steps (greedy: (0.2 + 0.4) / 2 and (0.15 + 0.35) / 2; ucb: (0.25 + 0.5) / 2 and
    # (0.175 + 0.4) / 2); every metric has the same values
    by_config = {"greedy": (0.3, 0.25), "ucb": (0.375, 0.2875)}
    expected = [by_config[exploration] for exploration in summary["exploration"]]
    np.testing.assert_allclose(summary[["final_mean", "auc_mean"]], expected, rtol=1e-9)
    assert (summary["n_seeds"] == 2).all()
    table = pd.read_csv(tmp_path / "compare.csv")
    assert set(table["exploration"]) == {"ucb"}
    assert list(table["metric"]) == [m for m in kept for _ in range(2)]
    assert list(table["measure"]) == ["final", "auc"] * len(kept)
    # paired by seed: final differences 0.05, 0.1; auc differences 0.025, 0.05
    for measure, (base, mine, diffs) in {"final": (0.3, 0.375, [0.05, 0.1]),
                                         "auc": (0.25, 0.2875, [0.025, 0.05])}.items():  # fmt: skip
        rows = table[table["measure"] == measure]
        half = T_975_1 * np.std(diffs, ddof=1) / np.sqrt(2)
        np.testing.assert_allclose(rows["baseline_mean"], base, rtol=1e-9)
        np.testing.assert_allclose(rows["mean"], mine, rtol=1e-9)
        np.testing.assert_allclose(rows["diff"], np.mean(diffs), rtol=1e-9)
        np.testing.assert_allclose(rows["ci_t_low"], np.mean(diffs) - half, rtol=1e-5)
        np.testing.assert_allclose(rows["ci_t_high"], np.mean(diffs) + half, rtol=1e-5)
        assert (rows["n_seeds"] == 2).all() and (rows["baseline"] == "exploration=greedy").all()
    assert (figures / "model.png").is_file() and (figures / "compare_model.png").is_file()


def test_a_comparison_that_cannot_be_made_leaves_the_other_files_merged(tmp_path, capsys):
    completed_job(tmp_path, 0, "greedy")
    completed_job(tmp_path, 1, "ucb")
    assert aggregate.main([str(tmp_path), "--baseline", "exploration=thompson"]) == 2
    assert "no configuration has it (exploration: greedy, ucb)" in capsys.readouterr().err
    assert (tmp_path / "summary.csv").exists() and not (tmp_path / "compare.csv").exists()
    # both jobs merged and summarised: every metric at step 20 is (0.2 + 0.4) / 2 for each
    assert sorted(set(pd.read_parquet(tmp_path / "sweep.parquet")["job"])) == ["0", "1"]
    summary, n = pd.read_csv(tmp_path / "summary.csv"), len(METRIC_NAMES)
    assert list(summary["exploration"]) == ["greedy"] * n + ["ucb"] * n
    np.testing.assert_allclose(summary["final_mean"], 0.3, rtol=1e-9)
