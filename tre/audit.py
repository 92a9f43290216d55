"""The tamper-evident audit log: an append-only, SHA-256 hash-chained table.

Every event is written by :func:`record` inside the caller's transaction, so an
event exists exactly when the change it records does.  A one-row head table,
locked for update while appending, serialises writers and remembers the last
hash, so deleting the newest events is detected as surely as editing old ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tre.clock import Clock, SystemClock
from tre.db import Base

GENESIS = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(200), index=True)
    project: Mapped[str | None] = mapped_column(String(200), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "project": self.project,
            "details": json.loads(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class AuditHead(Base):
    """The chain's tip (one row, id 1): locked while appending."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


def canonical(details: Any) -> str:
    return json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def event_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    project: str | None,
    details: str,
) -> str:
    body = canonical([seq, at, actor, action, object_type, object_id, project, details])
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _locked_head(session: Session) -> AuditHead:
    """The chain head, locked once per transaction: later events in the same transaction
    reuse the row already locked instead of re-reading it (one lock, not one per event)."""
    txn = session.get_transaction()
    cached = session.info.get("tre.audit.head")
    if cached is not None and cached[0] is txn:  # the transaction object itself, not its id
        head: AuditHead = cached[1]
        return head
    found = session.get(AuditHead, 1, with_for_update=True)
    if found is None:
        found = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(found)
    session.info["tre.audit.head"] = (txn, found)
    return found


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
    project: str | None = None,
    clock: Clock | None = None,
) -> AuditEvent:
    """Append one event in the session's transaction (the caller commits).

    The event is added to the session, not flushed on its own: the events of a
    transaction are written together at its next flush (at the latest, its commit),
    with the head row, which :func:`_locked_head` has held locked since the first."""
    head = _locked_head(session)
    at = (clock or SystemClock()).now().isoformat(timespec="microseconds")
    text = canonical(details or {})
    seq = head.seq + 1
    digest = event_hash(head.hash, seq, at, actor, action, object_type, object_id, project, text)
    ev = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        project=project,
        details=text,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(ev)
    head.seq, head.hash = seq, digest
    return ev


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    first_bad: int | None = None
    reason: str = ""


def iter_events(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> Verification:
    """Walk the chain; name the first event that was changed, removed or reordered."""
    prev, expected, count = GENESIS, 1, 0
    for ev in iter_events(session):
        if ev.seq != expected:
            return Verification(False, count, expected, f"event {expected} is missing")
        if ev.prev_hash != prev:
            return Verification(
                False,
                count,
                ev.seq,
                f"event {ev.seq} does not follow event {ev.seq - 1} (chain broken or reordered)",
            )
        digest = event_hash(
            ev.prev_hash,
            ev.seq,
            ev.at,
            ev.actor,
            ev.action,
            ev.object_type,
            ev.object_id,
            ev.project,
            ev.details,
        )
        if digest != ev.hash:
            return Verification(False, count, ev.seq, f"event {ev.seq} was modified")
        prev, expected, count = ev.hash, expected + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (count, prev):
        return Verification(
            False,
            count,
            count + 1,
            f"events after {count} are missing (the log's head is at {head.seq})",
        )
    return Verification(True, count)


def export_jsonl(session: Session, out: IO[str]) -> int:
    n = 0
    for ev in iter_events(session):
        out.write(json.dumps(ev.as_dict(), ensure_ascii=False) + "\n")
        n += 1
    return n
