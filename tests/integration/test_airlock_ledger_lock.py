"""The ledger's order without the audit log's: on PostgreSQL, submissions and releases of
one project take turns (an advisory lock), other projects' do not wait.  (On SQLite every
writer takes its turn anyway, and lock_ledger does nothing.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from airlock.db import repo
from tests.conftest import POSTGRES_URL
from tre.db import make_engine, session_factory, transaction


@pytest.fixture
def pg() -> Iterator[sessionmaker[Session]]:
    engine = make_engine(POSTGRES_URL)  # advisory locks need no tables
    yield session_factory(engine)
    engine.dispose()


def try_lock(s: Session, project: str) -> bool:
    return bool(s.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                          {"k": repo.ledger_lock_key(project)}).scalar_one())


def test_one_project_at_a_time(pg: sessionmaker[Session]) -> None:
    with transaction(pg) as holder:
        repo.lock_ledger(holder, "ledger-lock-test-p1")
        with transaction(pg) as other:
            assert not try_lock(other, "ledger-lock-test-p1")  # p1's next one waits
            assert try_lock(other, "ledger-lock-test-p2")  # another project's does not
    with transaction(pg) as later:
        assert try_lock(later, "ledger-lock-test-p1")  # released with the transaction
