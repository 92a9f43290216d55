"""Reading and writing the airlock's tables.  Callers own the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from airlock.db.models import FileCheck, LedgerEntry, Release, Request, RequestFile, Vote


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
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ledger_lock_key(project)})


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
