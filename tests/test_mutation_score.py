"""`python -m experiments.mutation_score`: the score per module from mutmut's result files."""

import json

import pytest

from experiments import mutation_score


def write_meta(root, module: str, codes: dict[str, int | None]) -> None:
    path = root / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_scores_per_module_by_hand(tmp_path, capsys):
    # mutmut's exit codes: 1 killed (tests failed), 0 survived, 33 no tests, 152 timeout
    # (SIGXCPU), None not run yet.
    write_meta(tmp_path, "envs/response/mnl.py",
               {"a": 1, "b": 1, "c": 1, "d": 0, "e": 152, "f": 33, "g": None})  # fmt: skip
    write_meta(tmp_path, "recsim/runs/stats.py", {"a": None})
    assert mutation_score.main([str(tmp_path), "--survivors"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("envs/response/mnl.py"))
    # killed 3, survived 1, timeout 1, no tests 1, not checked 1: score (3 + 1) / (3 + 1 + 1)
    assert row.split()[1:] == ["3", "1", "1", "1", "1", "0", "80.0%"]
    assert "recsim/runs/stats.py" not in out  # nothing run yet there
    assert out.rstrip().endswith("survived:\nd")
    assert mutation_score.main([str(tmp_path), "--all"]) == 0
    assert "recsim/runs/stats.py" in capsys.readouterr().out


@pytest.mark.parametrize("make", [False, True])
def test_no_results_is_one_line_and_exit_2(tmp_path, capsys, make):
    root = tmp_path / "mutants"
    if make:
        root.mkdir()
    assert mutation_score.main([str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and str(root) in err[0]
