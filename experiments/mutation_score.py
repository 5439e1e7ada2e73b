"""Mutation score per module, from the results `mutmut run` left in `mutants/`.

    mutmut run 'recsim.core.metrics.*' --max-children 2   # README: Mutation testing
    python -m experiments.mutation_score                     # a table, one row per module
    python -m experiments.mutation_score --survivors         # and every surviving mutant

score = (killed + timeout) / (killed + timeout + survived): the share of the mutants the
tests could have noticed that they did notice. Mutants no test reaches ("no tests") are counted
apart: a fast test that calls the function is missing (or only the end-to-end tests, which run
the code in subprocesses mutmut cannot see, reach it). Mutants not yet run are "not checked".
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

COLUMNS = ("killed", "survived", "timeout", "no tests", "not checked", "other")


def module_results(root: Path) -> dict[str, Counter]:
    """{module path: Counter of mutant statuses} from `root`/**/*.py.meta."""
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of its exit codes

    results: dict[str, Counter] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter()
        for code in codes.values():
            status = "not checked" if code is None else status_by_exit_code[code]
            counts[status if status in COLUMNS else "other"] += 1
        results[str(meta.relative_to(root)).removesuffix(".meta")] = counts
    return results


def survivors(root: Path) -> list[str]:
    from mutmut.stats import status_by_exit_code

    names = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        names += [name for name, code in codes.items()
                  if code is not None and status_by_exit_code[code] == "survived"]  # fmt: skip
    return names


def score(counts: Counter) -> float:
    noticed = counts["killed"] + counts["timeout"]
    tested = noticed + counts["survived"]
    return noticed / tested if tested else float("nan")


def table(results: dict[str, Counter]) -> str:
    width = max([len("module"), *map(len, results)])
    head = f"{'module':<{width}}  " + "  ".join(f"{c:>11}" for c in COLUMNS) + "    score"
    lines = [head, "-" * len(head)]
    for module, counts in results.items():
        cells = "  ".join(f"{counts[c]:>11}" for c in COLUMNS)
        lines.append(f"{module:<{width}}  {cells}  {score(counts):>7.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="mutants", type=Path,
                        help="mutmut's directory (default: mutants)")  # fmt: skip
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--all", action="store_true", help="also modules with no mutant run yet")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: {args.root} is not a directory; run `mutmut run` first", file=sys.stderr)
        return 2
    results = {
        module: counts
        for module, counts in module_results(args.root).items()
        if sum(counts.values()) > (0 if args.all else counts["not checked"])
    }
    if not results:
        print(f"error: no mutation results in {args.root}; run `mutmut run` first", file=sys.stderr)
        return 2
    print(table(results))
    if args.survivors:
        print("\nsurvived:\n" + "\n".join(survivors(args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
