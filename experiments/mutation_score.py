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


def statuses(root: Path) -> dict[str, dict[str, str]]:
    """{module path: {mutant name: status}} from `root`/**/*.py.meta ("not checked": not run)."""
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of its exit codes

    return {
        str(meta.relative_to(root)).removesuffix(".meta"): {
            name: "not checked" if code is None else status_by_exit_code[code]
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items()
        }
        for meta in sorted(root.rglob("*.py.meta"))
    }


def counts(by_name: dict[str, str]) -> Counter:
    """How many mutants of a module are in each of COLUMNS."""
    return Counter(status if status in COLUMNS else "other" for status in by_name.values())


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
    found = statuses(args.root)
    tallies = {module: counts(by_name) for module, by_name in found.items()}
    results = {
        module: tally
        for module, tally in tallies.items()
        if sum(tally.values()) > (0 if args.all else tally["not checked"])
    }
    if not results:
        print(f"error: no mutation results in {args.root}; run `mutmut run` first", file=sys.stderr)
        return 2
    print(table(results))
    if args.survivors:
        survived = [name for by_name in found.values() for name, status in by_name.items()
                    if status == "survived"]  # fmt: skip
        print("\nsurvived:\n" + "\n".join(survived))
    return 0


if __name__ == "__main__":
    sys.exit(main())
