"""The notebooks: stored without outputs, and run top to bottom on a small sweep."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import TINY_STRATEGIES, subprocess_env

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# figures=false: the runs' curves.png (the notebooks draw their own)
TINY = ["steps=20", "log_every=10", "seeds=2", "env.n_items=30", "env.n_users=100",
        "figures=false"]  # fmt: skip


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"exploration_curves.ipynb", "epsilon_sweep.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


def run_notebook(path: Path, overrides: str, tmp_path: Path) -> nbformat.NotebookNode:
    """Executes the notebook with `overrides` injected after its parameters cell."""
    notebook = nbformat.read(path, as_version=4)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides))
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    client.execute(env=subprocess_env())  # the kernel's sweeps: plumbing, as in test_sweep
    return notebook


def images(notebook) -> int:
    return sum(
        1 for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if "image/png" in output.get("data", {})
    )  # fmt: skip


@pytest.mark.slow
@TINY_STRATEGIES
def test_exploration_curves_notebook_runs_on_a_small_run(tmp_path):
    overrides = (
        f"RUN_DIR = {str(tmp_path / 'run')!r}\nSEEDS = 2\nSTEPS = 20\nLOG_EVERY = 10\n"
        f"EXTRA_OVERRIDES = {TINY[3:]!r}\nSAVE_DIR = {str(tmp_path / 'figures')!r}"
    )
    notebook = run_notebook(NOTEBOOKS[[p.name for p in NOTEBOOKS].index(
        "exploration_curves.ipynb")], overrides, tmp_path)  # fmt: skip
    families = ("accuracy", "diversity", "novelty", "fairness", "homogenisation", "model")
    assert images(notebook) == len(families) + 3  # the trade-off, two paired-difference plots
    saved = {p.name for p in (tmp_path / "figures").iterdir()}
    for name in (*families, "tradeoff", "compare_accuracy", "compare_model"):
        assert {f"{name}.png", f"{name}.pdf"} <= saved
    table = notebook.cells[-1].outputs[0]["data"]["text/html"]
    assert "font-weight: bold" in table and "expected_ctr" in table


@pytest.mark.slow
def test_epsilon_sweep_notebook_runs_two_grids(tmp_path):
    overrides = (
        f"EPSILON_DIR = {str(tmp_path / 'eps')!r}\nTHRESHOLD_DIR = {str(tmp_path / 'tau')!r}\n"
        "EPSILONS = [0.0, 0.2]\nTHRESHOLDS = [0.0, 0.05]\nSEEDS = 2\nSTEPS = 20\nLOG_EVERY = 10\n"
        f"EXTRA_OVERRIDES = {TINY[3:]!r}\nSAVE_DIR = {str(tmp_path / 'figures')!r}"
    )
    notebook = run_notebook(NOTEBOOKS[[p.name for p in NOTEBOOKS].index(
        "epsilon_sweep.ipynb")], overrides, tmp_path)  # fmt: skip
    assert images(notebook) == 2
    for name in ("epsilon", "threshold"):
        assert (tmp_path / "figures" / f"{name}.pdf").is_file()
    assert json.loads((tmp_path / "eps" / "run.json").read_text())["grid_points"] == 2
