"""`python -m experiments.aggregate SWEEP_DIR`: (re)build a sweep's merged results.

Writes manifest.json, sweep.parquet, summary.csv and curves.png from the jobs that have
completed so far — also for a partial or interrupted sweep — and lists failed jobs. Exit code:
0 if no job failed, 1 otherwise, 2 if the directory holds no job.
"""

import argparse
import sys
from pathlib import Path

from recsim import sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: sweep_dir={args.sweep_dir} is not a directory", file=sys.stderr)
        return 2
    entries = sweep.aggregate(args.sweep_dir)
    if not entries:
        print(f"error: sweep_dir={args.sweep_dir} holds no job (no */job.json)", file=sys.stderr)
        return 2
    print(f"sweep {args.sweep_dir}: {sweep.describe(entries)}")
    return 1 if sweep.failures(entries) else 0


if __name__ == "__main__":
    sys.exit(main())
