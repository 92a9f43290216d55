"""PostgreSQL: audit events are queued in their transaction and sequenced after it.

On PostgreSQL a request's transaction never waits for the log.  Its events are
inserted with a provisional place, a negative number from the ``audit_pending_seq``
sequence (``nextval`` takes no lock and is never rolled back), and a placeholder hash:
the event still exists exactly when its change does.  After the commit, the sequencer
(:func:`integrate`) locks the head, gives every queued event, in queue order, its place
in the tree and its leaf hash, moves the head and commits; then the notary signs the
new tree.  One run integrates every event queued by then, so under load a run serves
many requests, and the time the head is held, the only part of any request that is
serialised, is shared among them (``benchmarks/bench_audit_append.py``).

A request whose events another run has already integrated does not take the head at
all.  Events left queued by a crash are integrated by the next run (any commit, or
``tre audit checkpoint``); until then they are not in the tree (``tre audit verify``
counts them).  SQLite has one writer at a time anyway: there, places are given in the
transaction itself (:func:`tre.audit._place_events`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sqlalchemy import Connection, select, text
from sqlalchemy.engine import Engine

from tre import merkle

SEQUENCE = "audit_pending_seq"
BATCH = 1000  # events per run at most (a backlog left by a crash takes several runs)


def queue_places(conn: Connection, n: int) -> list[int]:
    """``n`` provisional places (negative, increasing in absolute value: queue order)."""
    values = conn.execute(text(f"SELECT nextval('{SEQUENCE}') FROM generate_series(1, :n)"),
                          {"n": n}).scalars().all()
    return [-int(v) for v in sorted(values)]


def _plan(conn: Connection, seq: int, frontier: str
          ) -> tuple[merkle.CompactRange, list[dict[str, object]]]:
    """The places and leaf hashes of the queued events (the first :data:`BATCH`, in queue
    order) after a head of ``seq`` events and ``frontier``; no change is written."""
    from tre.audit import AuditEvent, leaf_data

    events = AuditEvent.__table__
    rows = conn.execute(select(events).where(events.c.seq < 0)
                        .order_by(events.c.seq.desc()).limit(BATCH)).all()
    compact = merkle.CompactRange(seq, [bytes.fromhex(h) for h in json.loads(frontier)])
    changes: list[dict[str, object]] = []
    for r in rows:
        place = compact.size + 1
        leaf = merkle.leaf_hash(leaf_data(place, r.at, r.actor, r.action, r.object_type,
                                          r.object_id, r.project, r.details))
        compact.append(leaf)
        changes.append({"old": r.seq, "new": place, "leaf": leaf.hex()})
    return compact, changes


def integrate(engine: Engine, own: Sequence[int] = ()) -> tuple[int, bytes] | None:
    """Sequence every queued event; the new (size, root), or None when there was nothing
    to do (``own``: this request's provisional places, already integrated by another run).

    The queued events are read, and their places and hashes computed, before the head is
    locked, from the head as it was then: once locked, the head is held only for the one
    statement that writes them and the commit.  Every run moves the head, so a head still
    the same under the lock means no other run integrated anything meanwhile, and the
    events read are still queued; a head that moved is planned again, under the lock (an
    event committed after the read has a later run).  Integration is one run at a time,
    as before; what it no longer holds the head for is the reading and hashing."""
    from tre.audit import HOLDS, AuditEvent, AuditHead

    events, head_t = AuditEvent.__table__, AuditHead.__table__
    with engine.connect() as conn:
        if own:
            left = conn.execute(select(events.c.seq).where(events.c.seq.in_(list(own)))
                                .limit(1)).first()
            conn.rollback()
            if left is None:
                return None
        with conn.begin():
            seen = conn.execute(select(head_t.c.seq, head_t.c.hash, head_t.c.frontier)
                                .where(head_t.c.id == 1)).one()
            compact, changes = _plan(conn, seen.seq, seen.frontier)
            if not changes:
                return None
            head = conn.execute(select(head_t.c.seq, head_t.c.hash, head_t.c.frontier)
                                .where(head_t.c.id == 1).with_for_update()).one()
            held = time.perf_counter()
            if (head.seq, head.hash) != (seen.seq, seen.hash):  # another run came first
                compact, changes = _plan(conn, head.seq, head.frontier)
                if not changes:
                    return None
            # One statement moves the whole batch and the head (a data-modifying WITH): the
            # head is held for one round trip and the commit.
            top = compact.root()
            rows_sql = ", ".join(f"(:o{i}, :n{i}, :h{i})" for i in range(len(changes)))
            params: dict[str, object] = {
                "size": compact.size, "root": top.hex(),
                "frontier": json.dumps([h.hex() for h in compact.hashes])}
            for i, c in enumerate(changes):
                params.update({f"o{i}": c["old"], f"n{i}": c["new"], f"h{i}": c["leaf"]})
            conn.execute(text(
                "WITH placed AS (UPDATE audit_events AS e SET seq = v.new, hash = v.leaf "
                f"FROM (VALUES {rows_sql}) AS v(old, new, leaf) WHERE e.seq = v.old) "
                "UPDATE audit_head SET seq = :size, hash = :root, frontier = :frontier "
                "WHERE id = 1"), params)
            committing = time.perf_counter()
        done = time.perf_counter()
        HOLDS.add(done - held, done - committing)
        return compact.size, top
