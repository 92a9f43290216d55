"""The audit log on both engines: appends, checkpoints, and tampering of every kind.

The attacks are an insider's with write access to the database (not to the key or the
checkpoint files): each edit below is made the way that insider would make it, keeping
the stored hashes and the head row consistent wherever that is possible."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from tre import audit, checkpoints, merkle, notary
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


def paths() -> notary.Paths:
    return notary.Paths.from_settings()


def rehash_everything(s: Session) -> None:
    """What an insider does after an edit: recompute every stored hash and the head, so
    that the database agrees with itself again."""
    compact = merkle.CompactRange()
    for ev in audit.iter_events(s):
        leaf = audit.event_leaf(ev)
        ev.hash = leaf.hex()
        compact.append(leaf)
    s.flush()
    s.execute(delete(audit.AuditHead))
    s.add(audit.AuditHead(id=1, seq=compact.size, hash=compact.root().hex(),
                          frontier=json.dumps([h.hex() for h in compact.hashes])))


def test_log_verifies_and_exports(db: sessionmaker[Session]) -> None:
    append(db, 5)
    result = verify(db)
    assert result.ok and result.events == 5
    assert (result.checkpoints, result.covered) == (5, 5)  # one checkpoint per commit
    buf = io.StringIO()
    with transaction(db) as s:
        assert audit.export_jsonl(s, buf) == 5
        head = s.get(audit.AuditHead, 1)
        assert head is not None and head.seq == 5
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["details"] == {"i": 0, "name": "ünïcode"}
    assert rows[0]["at"] == "2026-01-01T00:00:00.000000+00:00"
    # the head's root is the RFC 6962 root of the five leaf hashes, and the latest
    # checkpoint signs exactly that
    leaves = [bytes.fromhex(r["hash"]) for r in rows]
    assert head.hash == merkle.root(leaves).hex()
    latest = checkpoints.latest(paths().checkpoint_file, paths().public_key())
    assert latest is not None and (latest.size, latest.root) == (5, merkle.root(leaves))


def test_event_rolled_back_with_its_change(db: sessionmaker[Session]) -> None:
    append(db, 2)
    with pytest.raises(RuntimeError), transaction(db) as s:
        audit.record(s, actor="bob", action="x", object_type="t", object_id="1")
        raise RuntimeError("the change failed")
    append(db, 1, actor="carol")
    result = verify(db)
    assert result.ok and result.events == 3
    with transaction(db) as s:
        assert [e.actor for e in audit.iter_events(s)] == ["alice", "alice", "carol"]


def test_events_of_one_transaction_are_placed_together(db: sessionmaker[Session]) -> None:
    with transaction(db) as s:
        for i in range(3):
            audit.record(s, actor="a", action="x", object_type="t", object_id=str(i))
    result = verify(db)
    assert result.ok and result.events == 3 and result.checkpoints == 1


@pytest.mark.parametrize(
    ("sql", "first_bad", "attack"),
    [
        ("UPDATE audit_events SET details = '[99]' WHERE seq = 3", 3, "modified"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2", 2, "modified"),
        ("DELETE FROM audit_events WHERE seq = 2", 2, "missing"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "truncated"),
    ],
)
def test_clumsy_edits_are_detected(
    db: sessionmaker[Session], sql: str, first_bad: int, attack: str
) -> None:
    append(db, 5)
    with transaction(db) as s:
        s.execute(text(sql))
    result = verify(db)
    assert not result.ok
    assert (result.first_bad, result.attack) == (first_bad, attack)


def test_truncation_with_the_head_moved_back_is_named(db: sessionmaker[Session]) -> None:
    """Issue 13: delete the last 10 events and move the head back; was "intact"."""
    append(db, 15)
    with transaction(db) as s:
        s.execute(delete(audit.AuditEvent).where(audit.AuditEvent.seq > 5))
        rehash_everything(s)
    result = verify(db)
    assert not result.ok and result.attack == "truncated" and result.first_bad == 6
    assert "events 6..15 were deleted" in result.reason and "the log holds 5" in result.reason


def test_deleting_the_last_event_and_the_head_row_is_named(db: sessionmaker[Session]) -> None:
    append(db, 4)
    with transaction(db) as s:
        s.execute(delete(audit.AuditEvent).where(audit.AuditEvent.seq == 4))
        s.execute(delete(audit.AuditHead))
    result = verify(db)
    assert not result.ok and result.attack == "truncated" and result.first_bad == 4
    assert "events 4..4 were deleted" in result.reason


def test_rewriting_an_event_and_rehashing_is_named(db: sessionmaker[Session]) -> None:
    """Issue 13: alice's request creation made into mallory's, the chain re-hashed."""
    append(db, 6)
    with transaction(db) as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
        rehash_everything(s)
    result = verify(db)
    assert not result.ok and result.attack == "rewritten" and result.first_bad == 3
    assert "events 3..3 were rewritten" in result.reason
    assert "the first 2 still match" in result.reason


def test_deleting_every_event_and_the_head_is_named(db: sessionmaker[Session]) -> None:
    """Issue 13: was "intact: 0 events"."""
    append(db, 3)
    with transaction(db) as s:
        s.execute(delete(audit.AuditEvent))
        s.execute(delete(audit.AuditHead))
    result = verify(db)
    assert not result.ok and result.attack == "emptied" and result.events == 0
    assert "every event was deleted" in result.reason and "covers 3" in result.reason


def test_removing_the_checkpoints_leaves_the_log_unanchored(db: sessionmaker[Session]) -> None:
    append(db, 2)
    paths().checkpoint_file.unlink()
    result = verify(db)
    assert not result.ok and result.attack == "unanchored"
    assert "no signed checkpoint covers the log" in result.reason


def test_a_checkpoint_signed_by_another_key_is_named(db: sessionmaker[Session],
                                                    tmp_path: Path) -> None:
    """An insider who re-hashed the log and signs a matching checkpoint with a key of
    their own is refused: verification trusts only the audit key."""
    append(db, 3)
    with transaction(db) as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
        rehash_everything(s)
        head = s.get(audit.AuditHead, 1)
        assert head is not None
        root = bytes.fromhex(head.hash)
    own = checkpoints.create_private(tmp_path / "mallory.pem")
    checkpoints.append(paths().checkpoint_file,
                       checkpoints.sign(own, "tre-audit-log", 3, root, 1))
    result = verify(db)
    assert not result.ok and result.attack == "forged"
    assert "line 4: the checkpoint is not signed by this audit key" in result.reason


def test_the_witness_keeps_what_the_checkpoint_file_lost(
        db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_AUDIT_WITNESS_FILE", str(tmp_path / "witness" / "checkpoints"))
    append(db, 4)
    assert len((tmp_path / "witness" / "checkpoints").read_text().splitlines()) == 4
    with transaction(db) as s:  # truncate the log and the local checkpoint file both
        s.execute(delete(audit.AuditEvent).where(audit.AuditEvent.seq > 2))
        rehash_everything(s)
    lines = paths().checkpoint_file.read_text().splitlines(keepends=True)
    paths().checkpoint_file.write_text("".join(lines[:2]))
    result = verify(db)
    assert not result.ok and result.attack == "truncated" and "covers 4" in result.reason


def test_a_pinned_public_key_refuses_a_replaced_key(
        db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    append(db, 1)
    pinned = tmp_path / "audit.pub"
    pinned.write_text(checkpoints.public_pem(paths().public_key()))
    monkeypatch.setenv("TRE_AUDIT_PUBLIC_KEY_FILE", str(pinned))
    assert verify(db).ok
    # The insider replaces the key and the checkpoint file, and rewrites the log to match.
    paths().key_file.unlink()
    paths().checkpoint_file.unlink()
    notary._notaries.clear()
    with transaction(db) as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory'"))
        rehash_everything(s)
    append(db, 1)  # signed with a fresh key
    result = verify(db)
    assert not result.ok and result.attack == "forged"


def test_a_torn_last_line_is_ignored(db: sessionmaker[Session]) -> None:
    append(db, 2)
    with open(paths().checkpoint_file, "a") as fh:
        fh.write('{"checkpoint": "tre-audit-log\\n3')  # a crash during the write
    result = verify(db)
    assert result.ok and result.covered == 2


def test_concurrent_writers_keep_one_log(db: sessionmaker[Session]) -> None:
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
    result = verify(db)
    assert result.ok and result.events == 40 and result.covered == 40
    with transaction(db) as s:
        assert s.scalars(select(audit.AuditEvent.seq).order_by(audit.AuditEvent.seq)).all() == list(
                range(1, 41))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: no sequencer
def test_a_sequencer_overtaken_after_its_read_plans_again(
        db: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the sequencer reads the queued events and hashes them before it locks
    the head.  Here another run integrates an event between that read and the lock (the
    read is wrapped to make that happen at that moment): the first run must see the head
    moved and plan again under the lock, or it would write places the tree already has."""
    from tre import audit_sequencer

    real_plan = audit_sequencer._plan
    calls: list[int] = []

    def overtaken(conn: object, seq: int, frontier: str) -> object:
        planned = real_plan(conn, seq, frontier)  # type: ignore[arg-type]
        calls.append(seq)
        if len(calls) == 1:  # a second writer commits and integrates meanwhile
            monkeypatch.setattr(audit_sequencer, "_plan", real_plan)
            append(db, 1, actor="bob")
            monkeypatch.setattr(audit_sequencer, "_plan", overtaken)
        return planned

    append(db, 2)
    with transaction(db) as s:  # queue one event without integrating it (as after a crash)
        s.execute(text("INSERT INTO audit_events (seq, at, actor, action, object_type, "
                       "object_id, project, details, hash) VALUES (-999999, :at, 'carol', "
                       "'request.submit', 'request', 'r9', 'p1', '{}', 'queued')"),
                  {"at": "2026-01-01T00:00:00.000000+00:00"})
    monkeypatch.setattr(audit_sequencer, "_plan", overtaken)
    from tre.db import make_engine

    engine = make_engine(db_url)
    try:
        out = audit_sequencer.integrate(engine)
    finally:
        engine.dispose()
    # Planned first from a head of 2 (carol's event at place 3), then again under the
    # lock from the head bob's run moved to 4, having integrated carol's event too: nothing
    # is left to do.  Written as first planned, place 3 would be given twice.
    assert calls == [2, 4] and out is None
    result = verify(db)
    assert result.ok and result.events == 4 and result.queued == 0
    with transaction(db) as s:
        actors = s.scalars(select(audit.AuditEvent.actor).order_by(audit.AuditEvent.seq)).all()
    assert actors[:2] == ["alice", "alice"] and sorted(actors[2:]) == ["bob", "carol"]
