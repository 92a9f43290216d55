"""The project's ledger lock is taken at the commit of a submission, after its writes
(the part of every submission that is serialised is then one query and the commit); a
release that came in between the submission's ledger read and its commit is caught
there, and the submission is done again with the lock first, so it is checked against
that release too."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select

import statbarn as sb
from airlock.db import repo
from airlock.db.models import LedgerEntry, Request
from tests.harness.airlock import Api, Harness, api_env, patients
from tre.audit import AuditEvent


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with api_env(db_url, tmp_path / "data") as (api, h):
            yield api, h


def submit(api: Api, folder: Path, name: str, df: pd.DataFrame) -> dict[str, Any]:
    out = sb.crosstab(df.region, df.sex, margins=True)
    sidecar = out.save(folder / name)
    r = api.submit_table("alice", (folder / name, sidecar), context="patients by region",
                         extra={"dataset": "cohort"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def fewer(df: pd.DataFrame) -> pd.DataFrame:
    """The population less 3 women of the North: differencing isolates them."""
    return df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])


def counts(db_url: str) -> tuple[int, int, int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return (int(conn.scalar(select(func.count()).select_from(Request)) or 0),
                    int(conn.scalar(select(func.count()).select_from(LedgerEntry)) or 0),
                    int(conn.scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "airlock.request.create")) or 0))
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_release_between_the_read_and_the_commit_is_checked(
        env: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = env
    df = patients()
    real = repo.defer_ledger_lock
    seen: list[int] = []

    def release_meanwhile(session: Any, project: str, newest: int) -> None:
        seen.append(newest)
        real(session, project, newest)
        if len(seen) == 1:
            # The whole population is released by another request now, after this
            # submission read the (empty) ledger and before it commits.
            other: dict[str, Any] = {}
            t = threading.Thread(target=lambda: other.update(
                submit(api, tmp_path / "other", "all.csv", df)))
            t.start()
            t.join()
            assert other["state"] == "released"

    (tmp_path / "other").mkdir()
    monkeypatch.setattr(repo, "defer_ledger_lock", release_meanwhile)
    second = submit(api, tmp_path, "fewer.csv", fewer(df))
    # Done again with the lock first: the release that came in is compared, and the
    # pair isolates 3 records, so a person decides.
    assert second["state"] == "in_review", "checked against a ledger that had moved"
    # one request each, no trace of the rolled-back attempt (its audit event went with it)
    assert counts(db_url) == (2, 1, 2)
    # deferred twice, both times on an empty ledger: this submission's first attempt and
    # the other one's; the second attempt took the lock first (nothing deferred)
    assert seen == [0, 0]


def test_an_unmoved_ledger_commits_at_the_first_attempt(
        env: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = env
    attempts: list[bool] = []
    real = repo.lock_ledger

    def counted(session: Any, project: str) -> None:
        attempts.append(repo.LEDGER_LAST in session.info)
        real(session, project)

    monkeypatch.setattr(repo, "lock_ledger", counted)
    df = patients()
    assert submit(api, tmp_path, "all.csv", df)["state"] == "released"
    assert submit(api, tmp_path, "fewer.csv", fewer(df))["state"] == "in_review"
    # the release (inside the first submission) found the lock deferred to the commit,
    # and no submission was done twice
    assert attempts == [True]
    assert counts(db_url) == (2, 1, 2)
