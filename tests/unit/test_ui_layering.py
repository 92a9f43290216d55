"""The browser pages only render: every database read and write goes through the service.

``airlock/ui/queries.py`` once read requests, votes, releases and audit events with its
own SQL and wrote the file-view audit event; ``revocation.py``, ``auth.py`` and
``other_pages.py`` opened sessions too.  All of it now lives in ``airlock/service/``
(``pages.py``), so access is decided in one layer.  A static check, read from the source:
it failed on the old code (queries.py imported sqlalchemy and airlock.db.models).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
UI = Path(__file__).resolve().parents[2] / "airlock" / "ui"

# Database access: the ORM, the airlock's tables, the platform's sessions and audit writes.
FORBIDDEN = ("sqlalchemy", "airlock.db", "tre.db", "tre.audit")

# What may stay, and why.
ALLOWED = {
    # The platform's governance pages (the policy editor): they read tre.authz's own
    # records (proposals, known names, audited decisions), not the airlock's, and are to
    # move out of the airlock package with the rest of governance (issue 15, "governance
    # pages move out of the airlock package"); the service layer here is the airlock's.
    "governance_edit.py",
}


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def problems(source: str) -> list[str]:
    """Database access in one module: imports of FORBIDDEN (outside ``if TYPE_CHECKING``,
    where a row type may be named for mypy but is never there at run time), and calls that
    open a session (``ctx.db()``, ``transaction(...)``)."""
    tree = ast.parse(source)
    hidden = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
              and _type_checking(node) for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        names: list[str] = []
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "tre":
                names += [f"tre.{a.name}" for a in node.names]
        for name in names:
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                found.append(f"line {line}: imports {name}")
                break
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "db":
                found.append(f"line {line}: opens a session (.db())")
            if isinstance(f, ast.Name) and f.id == "transaction":
                found.append(f"line {line}: opens a transaction")
    return found


def test_the_check_sees_what_the_old_pages_did() -> None:
    old = ("from sqlalchemy import select\nfrom airlock.db.models import Vote\n"
           "from tre import audit\n"
           "def f(ctx):\n    with ctx.db() as s:\n        return s.scalars(select(Vote))\n")
    assert problems(old) == ["line 1: imports sqlalchemy", "line 2: imports airlock.db.models",
                             "line 3: imports tre.audit", "line 5: opens a session (.db())"]
    typed = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
             "    from airlock.db.models import Request\n")
    assert problems(typed) == []


def test_the_pages_never_touch_the_database() -> None:
    modules = sorted(UI.rglob("*.py"))
    assert len(modules) > 10
    found = {p.name: problems(p.read_text(encoding="utf-8")) for p in modules
             if p.name not in ALLOWED}
    assert {name: where for name, where in found.items() if where} == {}


def test_the_allow_list_names_modules_that_exist_and_need_it() -> None:
    for name in ALLOWED:
        assert problems((UI / name).read_text(encoding="utf-8")), \
            f"{name} no longer touches the database: take it off the allow-list"
