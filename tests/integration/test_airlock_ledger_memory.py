"""The disclosure ledger as a process remembers it: parsed once, the same tables as the
database's, and only when an entry's table matches the digest stored with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

import statbarn as sb
from airlock import ledger
from airlock.db import repo
from airlock.db.models import LedgerEntry
from statbarn.ledger import LedgerTable
from tests.harness.airlock import PROJECT, Api, Harness, api_env, patients
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def release(api: Api, folder: Path, name: str, drop: int = 0) -> dict[str, object]:
    df = patients()
    if drop:
        df = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:drop])
    out = sb.crosstab(df.region, df.sex)
    out.save(folder / name)
    r = api.submit_table("alice", (folder / name, folder / f"{name}.statbarn.json"))
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_the_remembered_ledger_is_the_databases(
    env: tuple[Api, Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, h = env
    assert release(api, tmp_path, "all.csv")["state"] == "released"
    ledger.REMEMBERED.clear()
    with transaction(h.ctx.db) as s:
        rows = s.execute(select(LedgerEntry.id, LedgerEntry.table)
                         .order_by(LedgerEntry.id)).all()
        first, newest = ledger.load(s, PROJECT)
        assert newest == rows[-1][0] and len(first) == len(rows) == 1
        assert [t.to_json() for t in first.tables()] == \
            [LedgerTable.from_json(r[1]).to_json() for r in rows]

        def no_tables(*_args: object, **_kw: object) -> dict[int, object]:
            raise AssertionError("a remembered table was read again")

        monkeypatch.setattr(repo, "ledger_tables_by_id", no_tables)
        again, _ = ledger.load(s, PROJECT)
        assert again.tables()[0] is first.tables()[0]
        assert ledger.load(s, PROJECT, after_id=newest)[0].tables() == []
    monkeypatch.undo()
    # a table released since is read; the remembered one still finds the differencing
    second = release(api, tmp_path, "fewer.csv", drop=4)
    assert second["state"] == "in_review"
    assert "leaves 4 record(s) for region=North, sex=F" in str(second["decision"])


def test_an_entry_that_does_not_match_its_digest_is_not_remembered(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    assert release(api, tmp_path, "all.csv")["state"] == "released"
    ledger.REMEMBERED.clear()
    with transaction(h.ctx.db) as s:
        s.execute(update(LedgerEntry).values(digest="0" * 64))
    with transaction(h.ctx.db) as s:
        loaded, _ = ledger.load(s, PROJECT)
        assert len(loaded.tables()) == 1
    assert len(ledger.REMEMBERED._tables) == 0
