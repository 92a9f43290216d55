"""SQLite (the embedded default): units of work serialise, readers never wait for them.

A :func:`tre.db.transaction` takes the write lock at BEGIN (BEGIN IMMEDIATE), so two
read-then-write sequences (the audit chain's head) cannot interleave.  A session
that only reads begins a deferred transaction: in WAL mode it reads the last
committed state at once, even while a writer holds the lock, instead of polling
SQLite's busy handler until the writer commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.clock import SystemClock
from tre.db import make_engine, session_factory, transaction, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def _record(s: Session, what: str) -> None:
    audit.record(s, actor="test", action=what, object_type="test", object_id=what,
                 clock=SystemClock(), details={})


def test_a_reader_is_not_held_up_by_an_open_write_transaction(
        factory: sessionmaker[Session]) -> None:
    writer_holds_lock, reader_done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def writer() -> None:
        with transaction(factory) as s:
            _record(s, "held")
            s.flush()
            writer_holds_lock.set()
            # Keep the lock until the reader has finished (or give up after a while,
            # so a regression fails the assertions below rather than hanging).
            seen["reader_finished_first"] = reader_done.wait(20)

    t = threading.Thread(target=writer)
    t.start()
    assert writer_holds_lock.wait(20)
    with factory() as s:
        seen["count"] = s.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    reader_done.set()
    t.join(30)
    assert seen["reader_finished_first"] is True  # read while the writer held the lock
    assert seen["count"] == 0  # and saw the last committed state, not the open write
    with factory() as s:
        assert s.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1


def test_units_of_work_take_the_write_lock_at_begin(factory: sessionmaker[Session]) -> None:
    """A second transaction() waits at BEGIN for the first to commit, so it reads the
    chain head the first one wrote; the chain stays whole under concurrent writers."""
    first_in, second_began = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with transaction(factory) as s:
            _record(s, "first")
            first_in.set()
            second_began.wait(2)  # the second is blocked at BEGIN, so this times out
            order.append("first commits")

    def second() -> None:
        assert first_in.wait(20)
        with transaction(factory) as s:
            second_began.set()
            order.append("second begins")
            _record(s, "second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert order == ["first commits", "second begins"]
    with factory() as s:
        assert audit.verify(s).ok
