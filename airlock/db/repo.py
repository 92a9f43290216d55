"""Reading and writing the airlock's tables.  Callers own the transaction."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, selectinload

from airlock.db.models import FileCheck, LedgerEntry, Release, Request, RequestFile, Vote
from tre.audit import HoldStats

# session.info: the ledger lock is deferred to the commit, (project, newest entry id seen)
LEDGER_LAST = "airlock.ledger.last"
LEDGER_OWN = "airlock.ledger.own"  # session.info: the entries this transaction adds
LEDGER_HELD = "airlock.ledger.held_since"  # session.info: perf_counter() when it was taken
LEDGER_CHECKED = "airlock.ledger.checked_at"  # session.info: perf_counter() after the check
# How long transactions held a project's ledger lock (PostgreSQL), from taking it to the
# end of the commit: the part of every submission to one project that is serialised.
LEDGER_HOLDS = HoldStats()


class LedgerMoved(Exception):
    """A release of the project committed after this transaction read the ledger: the
    transaction is rolled back, and done again with the ledger locked first."""


def get_request(session: Session, request_id: str, *, lock: bool = False,
                checks: bool = False) -> Request | None:
    """A request with its files (and their checks).  ``lock``: SELECT ... FOR UPDATE, so
    concurrent votes or withdrawals on PostgreSQL queue behind each other (SQLite's
    BEGIN IMMEDIATE already serialises writers)."""
    opts = selectinload(Request.files)
    if checks:
        opts = opts.selectinload(RequestFile.checks)
    stmt = select(Request).where(Request.id == request_id).options(opts)
    if lock:
        stmt = stmt.with_for_update(of=Request)
    return session.scalars(stmt).first()


def lock_ledger(session: Session, project: str) -> None:
    """Serialise, per project, the transactions that read the ledger to decide and then
    add to it (submissions, releases), so each sees every release committed before it.

    PostgreSQL: a transaction-scoped advisory lock on the project (other projects do not
    wait).  SQLite: nothing to do, its writers already take turns (BEGIN IMMEDIATE).
    The audit log's head used to give this order to every write, project or not."""
    deferred = session.info.get(LEDGER_LAST)
    if deferred is not None and deferred[0] == project:
        return  # taken at the commit (defer_ledger_lock)
    _take_ledger_lock(session, project)


def _take_ledger_lock(session: Session, project: str) -> None:
    if session.get_bind().dialect.name != "postgresql" or LEDGER_HELD in session.info:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ledger_lock_key(project)})
    session.info[LEDGER_HELD] = time.perf_counter()


def own_ledger_entries(session: Session, entries: Iterable[LedgerEntry]) -> None:
    """Entries this transaction adds (its release's): no sign that the ledger moved."""
    session.info.setdefault(LEDGER_OWN, []).extend(entries)


def ledger_moved(session: Session, project: str, seen: int) -> bool:
    """Whether another transaction added to the project's ledger after entry ``seen``."""
    own = {e.id for e in session.info.get(LEDGER_OWN, ())}
    newer = session.scalars(select(LedgerEntry.id).where(
        LedgerEntry.project == project, LedgerEntry.id > seen).limit(len(own) + 1)).all()
    return bool(set(newer) - own)


def defer_ledger_lock(session: Session, project: str, seen: int) -> None:
    """Take the project's ledger lock at the commit instead of now: the transaction reads
    the ledger (up to entry ``seen``) and decides unlocked, and at the commit, after its
    last write, locks the ledger and checks that no entry was added since; if one was, it
    raises :class:`LedgerMoved` (and rolls back), and the caller does it again with the
    lock taken first.  The lock is then held for one query and the commit, not for the
    decision, the release record and the writes (measured: bench_airlock.py)."""
    session.info[LEDGER_LAST] = (project, seen)


@event.listens_for(Session, "before_commit")
def _ledger_lock_last(session: Session) -> None:
    deferred = session.info.pop(LEDGER_LAST, None)
    if deferred is None:
        return
    project, seen = deferred
    session.flush()  # every write first: the lock covers only the check and the commit
    _take_ledger_lock(session, project)
    if ledger_moved(session, project, seen):
        raise LedgerMoved(project)
    session.info[LEDGER_CHECKED] = time.perf_counter()  # what is left: the commit


# First among the after-commit listeners: the lock ends with the commit, not with the
# audit sequencer's run that follows it.
@event.listens_for(Session, "after_commit", insert=True)
def _ledger_released(session: Session) -> None:
    session.info.pop(LEDGER_OWN, None)
    held = session.info.pop(LEDGER_HELD, None)
    checked = session.info.pop(LEDGER_CHECKED, None)
    if held is not None:
        now = time.perf_counter()
        LEDGER_HOLDS.add(now - held, now - checked if checked is not None else 0.0)


@event.listens_for(Session, "after_rollback")
def _ledger_forget(session: Session) -> None:
    held = session.info.pop(LEDGER_HELD, None)
    for key in (LEDGER_LAST, LEDGER_OWN, LEDGER_CHECKED):
        session.info.pop(key, None)
    if held is not None:
        LEDGER_HOLDS.add(time.perf_counter() - held)


def ledger_lock_key(project: str) -> int:
    return int.from_bytes(hashlib.sha256(f"tre.ledger:{project}".encode()).digest()[:8],
                          "big", signed=True)


def votes_of(session: Session, request_id: str) -> list[Vote]:
    return list(session.scalars(
        select(Vote).where(Vote.request_id == request_id).order_by(Vote.id)))


def release_of(session: Session, request_id: str) -> Release | None:
    return session.scalars(select(Release).where(Release.request_id == request_id)).first()


def ledger_rows(session: Session, project: str, after_id: int = 0
                ) -> tuple[list[dict[str, Any]], int]:
    """The project's ledger (released tables) newer than ``after_id``, and the newest id."""
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.table)
        .where(LedgerEntry.project == project, LedgerEntry.id > after_id)
        .order_by(LedgerEntry.id)
    ).all()
    newest = rows[-1][0] if rows else after_id
    return [r[1] for r in rows], newest


def ledger_heads(session: Session, project: str, after_id: int = 0
                 ) -> list[tuple[int, str, str]]:
    """The project's ledger entries newer than ``after_id`` (id, digest, release id), in
    order, without their tables."""
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.digest, LedgerEntry.release_id)
        .where(LedgerEntry.project == project, LedgerEntry.id > after_id)
        .order_by(LedgerEntry.id)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def ledger_tables_by_id(session: Session, ids: Sequence[int], batch: int = 500
                        ) -> dict[int, dict[str, Any]]:
    """The tables of these ledger entries."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), batch):
        part = list(ids[start:start + batch])
        out.update((r[0], r[1]) for r in session.execute(
            select(LedgerEntry.id, LedgerEntry.table).where(LedgerEntry.id.in_(part))))
    return out


def ledger_digests(session: Session, project: str, digests: Sequence[str]) -> set[str]:
    """Which of these ledger tables the project has released already."""
    if not digests:
        return set()
    return set(session.scalars(select(LedgerEntry.digest).where(
        LedgerEntry.project == project, LedgerEntry.digest.in_(list(digests)))))


def list_requests(
    session: Session,
    *,
    requester: str | None = None,
    projects: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    oldest_first: bool = False,
    with_checks: bool = False,
) -> list[Request]:
    """Requests by filter; ``projects=None`` means every project.

    ``with_checks`` also loads each file's checks, with their evidence left in the
    database: a list shows no evidence, and a 200 x 50 table's is half a megabyte of
    JSON, so a queue of 50 such requests would otherwise decode 25 MB on every visit.
    """
    files = selectinload(Request.files)
    if with_checks:
        files = files.selectinload(RequestFile.checks).defer(FileCheck.evidence)
    stmt = select(Request).options(files)
    if requester is not None:
        stmt = stmt.where(Request.requester == requester)
    if projects is not None:
        stmt = stmt.where(Request.project.in_(list(projects)))
    if states:
        stmt = stmt.where(Request.state.in_(list(states)))
    order = Request.created_at.asc() if oldest_first else Request.created_at.desc()
    stmt = stmt.order_by(order, Request.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def count_by_project(session: Session, *, projects: Sequence[str] | None,
                     states: Sequence[str]) -> dict[str, int]:
    """How many requests in ``states`` each project has (``projects=None``: every one)."""
    stmt = select(Request.project, func.count()).where(Request.state.in_(list(states)))
    if projects is not None:
        stmt = stmt.where(Request.project.in_(list(projects)))
    return {p: int(n) for p, n in session.execute(stmt.group_by(Request.project))}


def vote_counts(session: Session, request_ids: Iterable[str]) -> dict[str, int]:
    ids = list(request_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Vote.request_id, func.count(func.distinct(Vote.reviewer)))
        .where(Vote.request_id.in_(ids)).group_by(Vote.request_id)
    ).all()
    return {r[0]: int(r[1]) for r in rows}


def referenced_blobs(session: Session) -> set[str]:
    """Every SHA-256 a row refers to: files (and the submitted form of a canonical copy),
    sidecars, safe alternatives."""
    refs: set[str] = set()
    for sha, side, alt, canon in session.execute(
        select(RequestFile.sha256, RequestFile.sidecar_sha256, RequestFile.alternative,
               RequestFile.canonical)
    ):
        refs.add(sha)
        if canon and canon.get("submitted_sha256"):
            refs.add(canon["submitted_sha256"])
        if side:
            refs.add(side)
        if alt:
            refs.update(v for k, v in alt.items() if k in ("sha256", "sidecar_sha256") and v)
    return refs


def file_checks(session: Session, file_id: str) -> list[FileCheck]:
    return list(session.scalars(
        select(FileCheck).where(FileCheck.file_id == file_id).order_by(FileCheck.id)))
