"""Fixtures shared by every test tier (unit, integration, e2e, browser).

Every test runs with a clean tre environment: no ``TRE_*`` variable from the
caller's shell leaks in, ``XDG_DATA_HOME`` points into the test's temporary
directory (so defaults never touch the real home), and the settings cache is
reset before and after.  ``TRE_ENVIRONMENT=development`` is set explicitly (the
default is production); tests of production behaviour set or delete it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tre.settings import reset_settings

_TIERS = ("unit", "integration", "e2e", "browser")


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.setenv("TRE_ENVIRONMENT", "development")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tre data directory, set as ``TRE_DATA_DIR``."""
    path = tmp_path / "tre-data"
    path.mkdir()
    monkeypatch.setenv("TRE_DATA_DIR", str(path))
    reset_settings()
    return path


@pytest.fixture
def migrated_data_dir(data_dir: Path) -> Path:
    """:func:`data_dir` with its database migrated by ``tre db upgrade``, as scripts/up does
    (no other command migrates: docs/database.md)."""
    from typer.testing import CliRunner

    from tre.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return data_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the tier directory they live in, so ``-m unit`` selects tests/unit."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts and tier not in {m.name for m in item.iter_markers()}:
                item.add_marker(getattr(pytest.mark, tier))


# ---- databases -------------------------------------------------------------------------------
# Database tests run on both engines: the embedded SQLite default and the real PostgreSQL
# (127.0.0.1:5432, database "test", trust auth).  Each PostgreSQL test gets its own schema,
# so tests never see each other's rows and need no cleanup order.
POSTGRES_URL = os.environ.get(
    "TRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_schema_url(schema: str) -> str:
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty platform database URL on each engine."""
    import uuid

    from sqlalchemy import create_engine, text

    from tre.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tre.db'}"
        upgrade(url)
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - loud, not silent
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not usable for the database tests: {exc}")
    url = _postgres_schema_url(schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[object]:
    """A session factory on the migrated database (``with transaction(db) as s``)."""
    from tre.db import make_engine, session_factory

    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()
