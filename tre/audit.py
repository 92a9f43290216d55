"""The audit log: an append-only Merkle tree of events, with signed checkpoints outside it.

Every event is written by :func:`record` inside the caller's transaction, so an event
exists exactly when the change it records does.  Events are the leaves of an RFC 6962
Merkle tree (:mod:`tre.merkle`): a leaf hashes the event alone, never its neighbours, so
an event's hash can be computed before it has a place in the log.

Places are given at the last moment.  On SQLite (one writer at a time anyway), just
before the transaction commits, once the change itself has been flushed, the one-row
head is locked, the transaction's events get the next leaf indices, and the head's
compact range (the O(log n) subtree hashes of the tree so far) moves on to the new
root.  On PostgreSQL the transaction takes no lock of the log's at all: its events are
queued with provisional places and integrated into the tree after the commit, many at
a time, by :func:`tre.audit_sequencer.integrate`.  Either way the head is held for the
append and a commit only, never for the unit of work.

After the commit the notary (:mod:`tre.notary`) signs a checkpoint of the new tree
size and root with a key the database does not hold, and appends it to a file outside
the database.  :mod:`tre.audit_verify` checks the log against every checkpoint, so an
insider who edits, re-hashes, truncates or empties the tables is caught and named.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import BigInteger, Integer, String, Text, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from tre import merkle
from tre.clock import Clock, SystemClock
from tre.db import Base

log = logging.getLogger(__name__)

PENDING = "tre.audit.pending"  # session.info: (root transaction, events without a place yet)
APPENDED = "tre.audit.appended"  # session.info: (size, root) of the tree this commit made
NOTARY = "tre.audit.notary"  # session.info: the notary that signs checkpoints (tre.notary)
HELD = "tre.audit.held_since"  # session.info: perf_counter() when the head was locked
QUEUED = "tre.audit.queued"  # session.info: provisional places (PostgreSQL), to integrate


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
    hash: Mapped[str] = mapped_column(String(64), unique=True)  # the RFC 6962 leaf hash

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
            "hash": self.hash,
        }


class AuditHead(Base):
    """The tree's head (one row, id 1): its size, root and compact range; locked to append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[str] = mapped_column(Text, default="[]")


def canonical(details: Any) -> str:
    return json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def leaf_data(seq: int, at: str, actor: str, action: str, object_type: str, object_id: str,
              project: str | None, details: str) -> bytes:
    """The bytes an event's leaf hashes: every field, in a fixed canonical form."""
    return canonical([seq, at, actor, action, object_type, object_id, project, details]).encode()


def event_leaf(ev: AuditEvent | dict[str, Any]) -> bytes:
    """The leaf hash of a stored event (an :class:`AuditEvent` or its ``as_dict()``)."""
    if isinstance(ev, dict):
        details = ev["details"]
        text = details if isinstance(details, str) else canonical(details)
        fields = (ev["seq"], ev["at"], ev["actor"], ev["action"], ev["object_type"],
                  ev["object_id"], ev["project"], text)
    else:
        fields = (ev.seq, ev.at, ev.actor, ev.action, ev.object_type, ev.object_id,
                  ev.project, ev.details)
    return merkle.leaf_hash(leaf_data(*fields))


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
    """Add one event to the session's transaction (the caller commits).

    The event gets its place in the log (``seq``, ``hash``) when the transaction
    commits; rolled back, it never existed."""
    at = (clock or SystemClock()).now().isoformat(timespec="microseconds")
    ev = AuditEvent(at=at, actor=actor, action=action, object_type=object_type,
                    object_id=object_id, project=project, details=canonical(details or {}))
    txn = _root(session.get_transaction())
    pending: tuple[SessionTransaction | None, list[AuditEvent]] | None = \
        session.info.get(PENDING)
    if pending is None or pending[0] is not txn:  # the transaction object itself, not its id
        pending = (txn, [])
        session.info[PENDING] = pending
    pending[1].append(ev)
    return ev


def _root(txn: SessionTransaction | None) -> SessionTransaction | None:
    while txn is not None and txn.parent is not None:
        txn = txn.parent
    return txn


def locked_head(session: Session) -> AuditHead:
    found = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                            .execution_options(populate_existing=True)).one_or_none()
    if found is None:  # seeded by the migration; a bare metadata.create_all() has none
        found = AuditHead(id=1, seq=0, hash=merkle.EMPTY_ROOT.hex(), frontier="[]")
        session.add(found)
    return found


@event.listens_for(Session, "before_commit")
def _place_events(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending is None or not pending[1] or pending[0] is not session.get_transaction():
        return
    session.flush()  # the change first, so its row locks are not taken under the head's
    if session.get_bind().dialect.name == "postgresql":  # queued: see tre.audit_sequencer
        from tre.audit_sequencer import queue_places

        places = queue_places(session.connection(), len(pending[1]))
        for ev, place in zip(pending[1], places, strict=True):
            ev.seq, ev.hash = place, f"queued{place}"
        session.add_all(pending[1])
        session.flush()
        session.info[QUEUED] = places
        return
    session.info[HELD] = time.perf_counter()
    head = locked_head(session)
    compact = merkle.CompactRange(head.seq, [bytes.fromhex(h) for h in json.loads(head.frontier)])
    for ev in pending[1]:
        ev.seq = compact.size + 1
        leaf = event_leaf(ev)
        ev.hash = leaf.hex()
        compact.append(leaf)
    session.add_all(pending[1])
    top = compact.root()
    head.seq, head.hash = compact.size, top.hex()
    head.frontier = json.dumps([h.hex() for h in compact.hashes])
    session.flush()
    session.info[APPENDED] = (compact.size, top)


@dataclass
class HoldStats:
    """How long commits held the head (seconds): what every appending request waits on."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    committing: float = 0.0  # of the total, the time spent in COMMIT (where it is known)

    def add(self, seconds: float, committing: float = 0.0) -> None:
        self.count += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        self.committing += committing


HOLDS = HoldStats()


@event.listens_for(Session, "after_commit")
def _checkpoint(session: Session) -> None:
    held = session.info.pop(HELD, None)
    if held is not None:
        HOLDS.add(time.perf_counter() - held)
    appended = session.info.pop(APPENDED, None)
    queued = session.info.pop(QUEUED, None)
    try:
        if queued is not None:
            from tre.audit_sequencer import integrate

            bind = session.get_bind()
            appended = integrate(bind if isinstance(bind, Engine) else bind.engine, queued)
        if appended is None:
            return
        notary = session.info.get(NOTARY)
        if notary is None:
            from tre import notary as notary_mod

            notary = notary_mod.default()
        notary.checkpoint(*appended)
    except Exception:  # the events are committed; the next run and checkpoint cover them
        log.exception("audit: could not sequence or checkpoint the log (appended: %s)",
                      appended)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for key in (PENDING, APPENDED, HELD, QUEUED):
        session.info.pop(key, None)


def iter_events(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    last = 0  # events still queued (negative places, PostgreSQL) are not in the tree yet
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def export_jsonl(session: Session, out: IO[str]) -> int:
    n = 0
    for ev in iter_events(session):
        out.write(json.dumps(ev.as_dict(), ensure_ascii=False) + "\n")
        n += 1
    return n


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found.  ``ok`` false: ``attack`` names the kind of change
    (modified, missing, rewritten, truncated, emptied, forged, unanchored), ``first_bad`` the
    first event it concerns, and ``reason`` says it in a sentence."""

    ok: bool
    events: int
    first_bad: int | None = None
    reason: str = ""
    attack: str = ""
    checkpoints: int = 0
    covered: int = 0  # events covered by the largest valid checkpoint
    queued: int = 0  # events committed but not yet in the tree (PostgreSQL, after a crash)
    key_fingerprint: str = ""  # the public key the checkpoints were verified with
    key_pinned: bool = False  # TRE_AUDIT_PUBLIC_KEY_FILE (else the key beside the log)
    witness: bool = False  # TRE_AUDIT_WITNESS_FILE configured


def verify(session: Session, paths: Any = None, anchored: bool | None = None
           ) -> Verification:
    """The log against its stored hashes and every signed checkpoint (tre.audit_verify).

    ``anchored``: refuse to call the log intact without a pinned key and a witness;
    by default, in production (``TRE_ENVIRONMENT=production``)."""
    from tre.audit_verify import verify_log

    if anchored is None:
        from tre.settings import get_settings

        anchored = get_settings().environment == "production"
    return verify_log(session, paths, anchored=anchored)
