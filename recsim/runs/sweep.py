"""Merging the jobs of a sweep (DESIGN.md §6): sweep.parquet, summary.csv, curves.png and
manifest.json, from whatever jobs have finished — also from a partial or interrupted sweep.

Only completed jobs (with a `COMPLETED` marker) contribute results; each configuration (config
hash) counts once even if a re-run recorded it as skipped elsewhere.

summary.csv has one row per (configuration, grid point, metric):
  final_mean, final_ci95   the metric at the last logged step: mean and 95% Student-t CI
                           half-width across seeds
  auc_mean, auc_ci95       the area under the metric's curve divided by the horizon (the
                           mean of the logged values over the run), across seeds
  n_seeds                  the number of seeds
Configurations are told apart by the override values and grid axes that vary in the sweep.
"""

from pathlib import Path
from typing import Any

import pandas as pd

from recsim.core.metric_table import COUNT_NAMES, METRIC_NAMES, SWEEP_METRICS
from recsim.runs import compare, jobs, results
from recsim.runs.stats import mean_and_ci

COMPARE_FILE = "compare.csv"
DIED = "its process ended without a record (killed: SIGKILL, out of memory, power loss)"


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Directories of the sweep that hold a job record, in job-number order."""
    found = [p.parent for p in Path(sweep_dir).glob(f"*/{jobs.JOB_FILE}")]
    return sorted(
        found, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)
    )


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """`["a=1", "b.c=x"]` -> {"a": "1", "b.c": "x"} (Hydra's `+`/`~` prefixes dropped)."""
    parsed = {}
    for override in overrides:
        key, _, value = override.partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def manifest(sweep_dir: Path) -> list[dict[str, Any]]:
    """One entry per job: overrides, config hash, status, run dir, error.

    Status: `completed` (the COMPLETED marker is there), `failed`, `skipped`, `interrupted`
    (stopped by the user), `running` (its process is alive and holds the job's lock), `died`
    (recorded running, but no process holds its lock: killed without a record, e.g. by
    SIGKILL or the out-of-memory killer), or `corrupt` (its record or, found by `collect`,
    its results cannot be read).
    """
    entries = []
    for job_dir in job_dirs(sweep_dir):
        try:
            record = jobs.read(job_dir) or {}
        except (OSError, ValueError) as error:
            record = {"status": "corrupt", "error": f"{jobs.JOB_FILE} unreadable: {error}"}
        status = record.get("status", "unknown")
        if results.is_completed(job_dir) and status in ("running", "completed"):
            status = "completed"  # the marker is the truth: written after every result file
        elif status == "completed":
            status, record["error"] = "failed", "interrupted: results incomplete (no COMPLETED)"
        elif status == "running" and not jobs.lock_is_held(job_dir):
            status, record["error"] = "died", DIED
        entries.append({
            "job": job_dir.name,
            "overrides": record.get("overrides", []),
            "config_hash": record.get("config_hash"),
            "status": status,
            "run_dir": str(job_dir),
            "error": record.get("error"),
            **({"completed_in": record["completed_in"]} if "completed_in" in record else {}),
        })  # fmt: skip
    return entries


def collect(sweep_dir: Path, entries: list[dict[str, Any]]) -> pd.DataFrame:
    """All completed jobs' rows, with their override values and job as columns. A completed
    job whose metrics.parquet cannot be read is marked `corrupt` in `entries` and left out."""
    frames, seen = [], set()
    override_keys: list[str] = []
    for entry in entries:
        for key in parse_overrides(entry["overrides"]):
            if key not in override_keys and not key.startswith("hydra."):
                override_keys.append(key)
    for entry in entries:
        if entry["status"] != "completed" or entry["config_hash"] in seen:
            continue
        path = Path(entry["run_dir"]) / "metrics.parquet"
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            entry.update(status="corrupt", error=f"{path} unreadable: {reason}")
            continue
        seen.add(entry["config_hash"])
        overrides = parse_overrides(entry["overrides"])
        for position, key in enumerate(override_keys):
            column = f"override.{key}" if key in frame.columns else key  # e.g. `seed`
            frame.insert(position, column, overrides.get(key, ""))
        frame.insert(0, "job", entry["job"])
        frame.insert(1, "config_hash", entry["config_hash"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def configuration_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that tell configurations apart: the overrides and grid axes that vary."""
    skip = {"job", "config_hash", "seed", "step", *COUNT_NAMES, *METRIC_NAMES}
    candidates = [c for c in frame.columns if c not in skip]
    return [c for c in candidates if frame[c].nunique(dropna=False) > 1]


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Final-step and area-under-curve statistics per configuration and metric (see module)."""
    by = configuration_columns(frame)
    metrics = [m for m in METRIC_NAMES if m in frame.columns]  # an older sweep may lack some
    # Each configuration's own last logged step (a sweep may vary the horizon).
    last = frame.groupby(by)["step"].transform("max") if by else frame["step"].max()
    per_seed_final = frame[frame["step"] == last].groupby([*by, "seed"])[metrics].mean()
    per_seed_auc = frame.groupby([*by, "seed"])[metrics].mean()
    groups = per_seed_final.groupby(level=list(range(len(by)))) if by else [((), per_seed_final)]
    rows = []
    for label, final in groups:
        label = label if isinstance(label, tuple) else (label,)
        auc = per_seed_auc.loc[label] if by else per_seed_auc
        for metric in metrics:
            final_mean, final_ci, n = mean_and_ci(final[metric].dropna())
            auc_mean, auc_ci, _ = mean_and_ci(auc[metric].dropna())
            rows.append((*label, metric, final_mean, final_ci, auc_mean, auc_ci, n))
    columns = [*by, "metric", "final_mean", "final_ci95", "auc_mean", "auc_ci95", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def aggregate(sweep_dir: Path, baseline: str | None = None) -> list[dict[str, Any]]:
    """(Re)writes manifest.json and, if any job completed, sweep.parquet, summary.csv and
    curves.png in `sweep_dir`; with `baseline` (`KEY=VALUE`) also compare.csv, the paired
    comparisons of `recsim.runs.compare` (without, an older compare.csv is removed: it would
    describe older results). Everything is computed before anything is written, so a failure
    leaves the directory as it was. Returns the manifest entries.

    Raises:
      compare.CompareError: the comparison cannot be made (the other files are written).
    """
    sweep_dir = Path(sweep_dir)
    entries = manifest(sweep_dir)
    frame = collect(sweep_dir, entries)  # marks jobs with unreadable results corrupt
    by = configuration_columns(frame) if not frame.empty else []
    summary = summarize(frame) if not frame.empty else None
    comparison, problem = None, None
    if baseline is not None and not frame.empty:
        try:
            comparison = compare.compare(frame, by, baseline)
        except compare.CompareError as error:
            problem = error
    results.write_json(sweep_dir / "manifest.json", {"jobs": entries, "baseline": baseline})
    (sweep_dir / COMPARE_FILE).unlink(missing_ok=True)
    if frame.empty:  # nothing completed: no merged file may describe older results
        for name in ("sweep.parquet", "summary.csv", "curves.png"):
            (sweep_dir / name).unlink(missing_ok=True)
        return entries
    results.write_parquet(sweep_dir / "sweep.parquet", frame)
    results.write_atomic(sweep_dir / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    from recsim import figures  # here: matplotlib is half a second of every process's start

    results.write_atomic(
        sweep_dir / "curves.png",
        lambda tmp: figures.curves(
            frame, by, SWEEP_METRICS, title=f"sweep {sweep_dir.name}"
        ).savefig(tmp, dpi=110, format="png"),
    )
    if comparison is not None:
        results.write_atomic(
            sweep_dir / COMPARE_FILE, lambda tmp: comparison.to_csv(tmp, index=False)
        )
    if problem is not None:
        raise problem
    return entries


def failures(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs that ended without a result: failed, interrupted, died or corrupt."""
    return [e for e in entries if e["status"] in ("failed", "interrupted", "died", "corrupt")]


def describe(entries: list[dict[str, Any]]) -> str:
    """A short report: counts per status and every failed job with its overrides and error."""
    counts = pd.Series([e["status"] for e in entries]).value_counts().to_dict() if entries else {}
    lines = [", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no jobs"]
    for entry in failures(entries):
        overrides = " ".join(entry["overrides"])
        reason = entry["error"] or "no reason recorded"
        lines.append(f"{entry['status'].upper()} job {entry['job']}: {overrides}: {reason}")
    return "\n".join(lines)
