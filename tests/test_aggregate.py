"""Merging a sweep whose jobs' files are damaged: the damaged job is marked, the rest merged,
no stale merged file is left beside the new manifest."""

import json

import pandas as pd

from experiments import aggregate
from recsim.runs import jobs, results
from tests.test_summary import frame_of


def completed_job(sweep_dir, number: int, exploration: str, corrupt: bool = False) -> None:
    job_dir = sweep_dir / str(number)
    jobs.write(job_dir, status="completed", overrides=[f"exploration={exploration}"],
               config_hash=f"hash-{exploration}")  # fmt: skip
    frame = frame_of(exploration, [10, 20], {0: [0.1, 0.2], 1: [0.3, 0.4]}).drop(
        columns="exploration"
    )
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
    assert set(pd.read_parquet(tmp_path / "sweep.parquet")["job"]) == {"0"}
    assert "CORRUPT job 1: exploration=ucb:" in capsys.readouterr().out


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
    for number, exploration in enumerate(("greedy", "ucb")):
        completed_job(tmp_path, number, exploration)
        path = tmp_path / str(number) / "metrics.parquet"
        older = pd.read_parquet(path).drop(columns=["calibration_error", "uncertainty_coverage"])
        results.write_parquet(path, older)
    figures = tmp_path / "figures"
    assert aggregate.main([str(tmp_path), "--baseline", "exploration=greedy",
                           "--figures", str(figures)]) == 0  # fmt: skip
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert "calibration_error" not in set(summary["metric"]) and "ctr" in set(summary["metric"])
    assert set(pd.read_csv(tmp_path / "compare.csv")["exploration"]) == {"ucb"}
    assert (figures / "model.png").is_file() and (figures / "compare_model.png").is_file()


def test_a_comparison_that_cannot_be_made_leaves_the_other_files_merged(tmp_path, capsys):
    completed_job(tmp_path, 0, "greedy")
    completed_job(tmp_path, 1, "ucb")
    assert aggregate.main([str(tmp_path), "--baseline", "exploration=thompson"]) == 2
    assert "no configuration has it (exploration: greedy, ucb)" in capsys.readouterr().err
    assert (tmp_path / "summary.csv").exists() and not (tmp_path / "compare.csv").exists()
