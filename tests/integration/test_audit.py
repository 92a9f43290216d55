"""The audit chain on both engines: appends, verification, tampering of every kind."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.clock import FixedClock
from tre.db import transaction


def append(db: sessionmaker[Session], n: int, actor: str = "alice") -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    for i in range(n):
        with transaction(db) as s:
            audit.record(
                s,
                actor=actor,
                action="request.submit",
                object_type="request",
                object_id=f"r{i}",
                details={"i": i, "name": "ünïcode"},
                project="p1",
                clock=clock,
            )
        clock.advance(seconds=1)


def verify(db: sessionmaker[Session]) -> audit.Verification:
    with transaction(db) as s:
        return audit.verify(s)


def test_chain_verifies_and_exports(db: sessionmaker[Session]) -> None:
    append(db, 5)
    result = verify(db)
    assert result == audit.Verification(True, 5)
    buf = io.StringIO()
    with transaction(db) as s:
        assert audit.export_jsonl(s, buf) == 5
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[0]["details"] == {"i": 0, "name": "ünïcode"}
    assert rows[0]["at"] == "2026-01-01T00:00:00.000000+00:00"


def test_event_rolled_back_with_its_change(db: sessionmaker[Session]) -> None:
    append(db, 2)
    with pytest.raises(RuntimeError), transaction(db) as s:
        audit.record(s, actor="bob", action="x", object_type="t", object_id="1")
        raise RuntimeError("the change failed")
    assert verify(db) == audit.Verification(True, 2)


@pytest.mark.parametrize(
    ("sql", "first_bad", "reason"),
    [
        ("UPDATE audit_events SET details = '[99]' WHERE seq = 3", 3, "modified"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2", 2, "modified"),
        ("DELETE FROM audit_events WHERE seq = 2", 2, "missing"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "missing"),
    ],
)
def test_tampering_is_detected(
    db: sessionmaker[Session], sql: str, first_bad: int, reason: str
) -> None:
    append(db, 5)
    with transaction(db) as s:
        s.execute(text(sql))
    result = verify(db)
    assert not result.ok
    assert result.first_bad == first_bad
    assert reason in result.reason


def test_reordering_is_detected(db: sessionmaker[Session]) -> None:
    append(db, 4)
    with transaction(db) as s:
        # swap the contents of events 2 and 3 (keeping their hashes valid individually)
        a = s.get(audit.AuditEvent, 2)
        b = s.get(audit.AuditEvent, 3)
        assert a is not None and b is not None
        fields = (
            "at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "project",
            "details",
            "prev_hash",
            "hash",
        )
        va, vb = ({f: getattr(x, f) for f in fields} for x in (a, b))
        for f in fields:
            setattr(a, f, f"tmp-{f}" if f == "hash" else vb[f])
        s.flush()
        for f in fields:
            setattr(b, f, va[f])
        s.flush()
        a.hash = vb["hash"]
    result = verify(db)
    assert not result.ok and result.first_bad == 2


def test_concurrent_writers_keep_one_chain(db: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            append(db, 10, actor=name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"u{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert verify(db) == audit.Verification(True, 40)
