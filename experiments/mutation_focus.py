"""Runs a module's mutants against chosen test files only, by narrowing mutmut's map.

    python -m experiments.mutation_focus recsim.core.metrics. \\
        tests/test_metrics.py tests/test_metric_table.py tests/test_calibration.py
    mutmut run 'recsim.core.metrics.*' --max-children 2

mutmut runs each mutant against the tests its map (`mutants/mutmut-stats.json`) says call the
mutated function. For a function every simulation calls (a metric, the tracking), a map made
with fresh tracing caches (tests/conftest.py) credits every test that runs a loop: 40–75
tests per function of `recsim.core.metrics`, about 35 s per surviving mutant, so one module
takes hours. This keeps, for the functions whose mangled name starts with PREFIX, only the
mapped tests in FILES (the files whose claims are those functions' values). The score is then
that of those files alone, stricter than the whole suite's: check a survivor by hand against
the other files before writing a test for it. Remove `mutants/mutmut-stats.json` to map every
test again.
"""

import argparse
import json
import sys
from pathlib import Path

STATS = Path("mutants/mutmut-stats.json")


def narrow(stats: dict, prefix: str, files: list[str]) -> dict[str, tuple[int, int]]:
    """Keeps, in `stats` (mutmut's map, changed in place), only the tests in `files` for the
    functions whose name starts with `prefix`: {function: (tests before, tests kept)}."""
    kept = {}
    for function, tests in stats["tests_by_mangled_function_name"].items():
        if function.startswith(prefix):
            narrowed = [test for test in tests if test.split("::")[0] in files]
            stats["tests_by_mangled_function_name"][function] = narrowed
            kept[function] = (len(tests), len(narrowed))
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "prefix", help="start of the mangled function names, e.g. recsim.core.metrics."
    )
    parser.add_argument("files", nargs="+", help="test files to keep, e.g. tests/test_metrics.py")
    parser.add_argument(
        "--stats", type=Path, default=STATS, help="mutmut's map (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if not args.stats.is_file():
        print(
            f"error: {args.stats} does not exist; run `mutmut run` once to make it", file=sys.stderr
        )
        return 2
    stats = json.loads(args.stats.read_text())
    kept = narrow(stats, args.prefix, args.files)
    if not kept:
        print(f"error: prefix {args.prefix!r} names no function in {args.stats}", file=sys.stderr)
        return 2
    tests = stats["tests_by_mangled_function_name"]
    reached = {test.split("::")[0] for function in kept for test in tests[function]}
    unused = [name for name in args.files if name not in reached]
    if unused:
        print(f"error: {', '.join(unused)}: no test in it calls a function of {args.prefix!r}; "
              "give test files as paths from the repository root", file=sys.stderr)  # fmt: skip
        return 2
    args.stats.write_text(json.dumps(stats))
    for function, (before, after) in kept.items():
        print(f"{function}: {before} -> {after} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
