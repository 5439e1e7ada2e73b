"""`experiments.mutation_focus` narrows mutmut's map to chosen test files, for one prefix."""

import json

from experiments import mutation_focus

MAP = {
    "tests_by_mangled_function_name": {
        "recsim.core.metrics.x_gini": [
            "tests/test_metrics.py::test_a",
            "tests/test_loop.py::test_b",
        ],
        "recsim.core.metrics.x_dcg": ["tests/test_loop.py::test_b"],
        "recsim.core.tracking.x_row": ["tests/test_loop.py::test_b"],
    },
    "duration_by_test": {},
}


def test_only_the_prefix_functions_lose_the_other_files_tests(tmp_path, capsys):
    stats = tmp_path / "mutmut-stats.json"
    stats.write_text(json.dumps(MAP))
    code = mutation_focus.main(["recsim.core.metrics.", "tests/test_metrics.py",
                                "--stats", str(stats)])  # fmt: skip
    assert code == 0
    tests = json.loads(stats.read_text())["tests_by_mangled_function_name"]
    assert tests == {
        "recsim.core.metrics.x_gini": ["tests/test_metrics.py::test_a"],
        "recsim.core.metrics.x_dcg": [],  # no test of the kept files calls it: "no tests"
        "recsim.core.tracking.x_row": ["tests/test_loop.py::test_b"],  # another prefix: kept
    }
    assert "recsim.core.metrics.x_gini: 2 -> 1 tests" in capsys.readouterr().out


def test_bad_input_is_one_line_exit_2_and_the_map_untouched(tmp_path, capsys):
    stats = tmp_path / "mutmut-stats.json"
    assert mutation_focus.main(["recsim.", "tests/test_metrics.py", "--stats", str(stats)]) == 2
    assert "does not exist; run `mutmut run` once" in capsys.readouterr().err
    stats.write_text(json.dumps(MAP))
    for argv, message in [
        (["recsim.nothing.", "tests/test_metrics.py"], "names no function"),
        # a file whose tests call only other prefixes' functions is a mistake, not a focus
        (["recsim.core.tracking.", "tests/test_metrics.py"], "tests/test_metrics.py: no test"),
    ]:
        assert mutation_focus.main([*argv, "--stats", str(stats)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert json.loads(stats.read_text()) == MAP
