"""The layers contract (pyproject's [tool.importlinter], CONTRIBUTING.md "Layers").

Arrows point inward: statbarn <- the platform core <- the apps <- the composition roots.
`lint-imports` (run by scripts/test) checks the tree; these tests check that it is kept
here, that every module of ours is in some layer (a module no layer names would be
checked by nothing), and that a wrong import planted in a copy of the tree breaks it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
ROOTS: list[str] = CONFIG["root_packages"]
# Loaded by Alembic from their paths, never imported by name: the migrations' env (a
# composition root) and the revisions.
NOT_MODULES = ("tre.migrations",)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-logo", "--no-cache", str(root / "pyproject.toml")],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300, check=False)


def _layer_modules() -> set[str]:
    names: set[str] = set()
    for contract in CONFIG["contracts"]:
        for layer in contract.get("layers", []):
            for part in layer.replace("|", ":").split(":"):
                names.add(part.strip().strip("()"))
    return names


def _our_modules() -> list[str]:
    found = []
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and of pyproject.toml, to plant imports in."""
    root = tmp_path_factory.mktemp("layers")
    for package in ROOTS:
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_the_layers() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_every_module_is_in_a_layer() -> None:
    layered = _layer_modules()
    # a package whose modules are layered one by one (tre, tre.hub) is a namespace: its
    # __init__ holds a docstring or a version, and imports nothing of ours
    missing = [m for m in _our_modules()
               if not m.startswith(NOT_MODULES)
               and not any(m == name or m.startswith(name + ".") for name in layered)
               and not any(name.startswith(m + ".") for name in layered)]
    assert missing == []


@pytest.mark.parametrize(("module", "line", "arrow"), [
    ("tre/db.py", "import airlock.db.models", "tre.db -> airlock.db.models"),  # core -> app
    ("statbarn/bands.py", "import tre.clock", "statbarn.bands -> tre.clock"),  # pure -> core
    ("airlock/checks.py", "import tre.cli", "airlock.checks -> tre.cli"),  # app -> root
    ("tre/catalog/service.py", "import workspaces.spawner",  # core -> app
     "tre.catalog.service -> workspaces.spawner"),
    ("workspaces/plan.py", "import airlock.store", "workspaces.plan -> airlock.store"),  # app-app
])
def test_a_wrong_import_breaks_the_contract(tree: Path, module: str, line: str,
                                            arrow: str) -> None:
    path = tree / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # planted by test_layers\n")
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout and " 0 broken." not in result.stdout
    assert arrow in result.stdout
