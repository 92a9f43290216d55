"""``tre db upgrade`` is the one command that migrates; every other one refuses a schema
that is behind or ahead, with a sentence naming what to run (docs/database.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tre.cli import app
from tre.db import upgrade
from tre.errors import SchemaAhead, SchemaBehind
from tre.schema import _shown, require_current, schema_status, wait_for_current

runner = CliRunner()


def tre(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'tre.db'}"


def _set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_only_tre_db_upgrade_migrates(url: str) -> None:
    # Before: `tre project list` (and every governance command) migrated on the way.
    code, _, err = tre("project", "list", "--as", "grace")
    assert code == 2
    assert "has no tre schema yet: run `tre db upgrade`" in err
    assert schema_status(url).state == "empty"  # the refused command changed nothing
    code, _, err = tre("db", "status")
    assert code == 2 and "run `tre db upgrade`" in err

    code, out, err = tre("db", "upgrade")
    assert code == 0, err
    assert out.startswith("the database schema is current (revision 0012_file_statistic)")
    assert "was empty" in out
    assert tre("db", "status") == (
        0, "the database schema is current (revision 0012_file_statistic)\n", "")
    assert tre("db", "upgrade")[0] == 0  # idempotent
    assert tre("project", "list", "--as", "grace")[0] == 0


def test_a_schema_behind_names_the_command(url: str) -> None:
    upgrade(url, "0004_catalog")
    status = schema_status(url)
    assert (status.state, status.current) == ("behind", ("0004_catalog",))
    code, _, err = tre("project", "list", "--as", "grace")
    assert code == 2
    assert ("is at schema revision 0004_catalog, older than this tre's "
            "0012_file_statistic: run `tre db upgrade`") in err
    code, _, err = tre("audit", "verify", "--as", "olivia")
    assert code == 2 and "run `tre db upgrade`" in err
    assert tre("db", "upgrade")[0] == 0
    assert schema_status(url).state == "current"


def test_a_schema_ahead_is_refused_even_by_upgrade(url: str) -> None:
    upgrade(url)
    _set_revision(url, "0099_from_a_newer_tre")
    with pytest.raises(SchemaAhead, match="migrated by a newer tre"):
        require_current(url)
    code, _, err = tre("project", "list", "--as", "grace")
    assert code == 2 and "0099_from_a_newer_tre, which this tre does not know" in err
    code, _, err = tre("db", "upgrade")
    assert code == 2 and "migrated by a newer tre" in err
    assert schema_status(url).current == ("0099_from_a_newer_tre",)  # untouched


def test_serve_refuses_a_schema_behind(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: `tre airlock serve` migrated; now it refuses before it serves anything.
    monkeypatch.setenv("TRE_ENVIRONMENT", "development")
    code, _, err = tre("airlock", "serve", "--port", "1")
    assert code == 2 and "run `tre db upgrade`" in err
    assert schema_status(url).state == "empty"


def test_wait_for_schema_waits_for_the_migration(url: str) -> None:
    """A replica started before the migration Job: it waits, then serves.  The clock and
    the sleep are injected (no time passes in the test)."""
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        if len(sleeps) == 3:
            upgrade(url)  # the Job finishes while the replica waits

    status = wait_for_current(url, 60, interval=2, sleep=sleep, clock=lambda: now[0])
    assert status.state == "current" and sleeps == [2, 2, 2]

    _set_revision(url, "0004_catalog")
    now[0], sleeps[:] = 0.0, []

    def idle(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(SchemaBehind):  # no migration comes: refused once the time is up
        wait_for_current(url, 5, interval=2, sleep=idle, clock=lambda: now[0])
    assert sleeps == [2, 2, 2]

    _set_revision(url, "0099_from_a_newer_tre")
    with pytest.raises(SchemaAhead):  # waiting will not make this tre newer: at once
        wait_for_current(url, 60, sleep=lambda s: pytest.fail("slept"), clock=lambda: 0.0)


def test_the_sentence_never_shows_the_password() -> None:
    shown = _shown("postgresql+psycopg://tre:s3cret-pw@db:5432/tre")
    assert "s3cret-pw" not in shown and shown.startswith("postgresql+psycopg://tre:***@db")
