"""The package layering: `recsim.core` is pure JAX (no results, figures, pandas, matplotlib or
file I/O); `recsim` never imports `envs`, `agents` or `experiments`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_FORBIDDEN = (
    "recsim.runs", "recsim.figures", "matplotlib", "pandas", "pyarrow", "pathlib", "os",
    "shutil", "json", "io", "tempfile", "tqdm",
)  # fmt: skip
ENGINE_FORBIDDEN = ("envs", "agents", "experiments", "hydra", "omegaconf")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "recsim" / "core").glob("*.py")), ids=lambda p: p.name
)
def test_core_is_pure(path):
    assert violations(path, CORE_FORBIDDEN) == []


@pytest.mark.parametrize(
    "path", sorted((ROOT / "recsim").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_engine_does_not_import_plug_ins(path):
    assert violations(path, ENGINE_FORBIDDEN) == []


@pytest.mark.parametrize(
    "path", sorted((ROOT / "recsim" / "figures").glob("*.py")), ids=lambda p: p.name
)
def test_figures_use_only_statistics_from_runs(path):
    runs = [name for name in imported_modules(path) if name.startswith("recsim.runs")]
    assert all(name.startswith("recsim.runs.stats") for name in runs), runs


def test_the_layering_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os.path\nfrom recsim.runs import results\nfrom pandas import Series\n")
    assert violations(bad, CORE_FORBIDDEN) == ["os.path", "pandas", "pandas.Series",
                                               "recsim.runs", "recsim.runs.results"]  # fmt: skip
