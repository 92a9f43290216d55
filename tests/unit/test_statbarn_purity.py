"""statbarn stays pure: no web, database, Docker or platform import anywhere under statbarn/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

# pyarrow: the Parquet footer is read (bounded) before pandas reads the table through it
ALLOWED = {"numpy", "pandas", "pyarrow", "scipy", "pydantic", "yaml", "statbarn", "__future__"}
FORBIDDEN = {"fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "docker", "requests",
             "httpx", "jupyterhub", "casbin", "tre", "airlock", "uvicorn", "jinja2"}
STATBARN = Path(__file__).resolve().parents[2] / "statbarn"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(STATBARN.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_only_pure_libraries(path: Path) -> None:
    import sys

    roots = imported_roots(path)
    assert not roots & FORBIDDEN, f"{path.name} imports {sorted(roots & FORBIDDEN)}"
    third_party = {r for r in roots if r not in sys.stdlib_module_names}
    assert third_party <= ALLOWED, f"{path.name} imports {sorted(third_party - ALLOWED)}"
