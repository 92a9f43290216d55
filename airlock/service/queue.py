"""The review queue and the decided requests, read as summaries (issue 15: the pages
read through the service).

A summary is what a listing shows of a request: its title, files (name, verdict,
context, exception), what its checks found (each check's rule and verdict, and the
kind of output statbarn saw) and who voted on which file.  It is read in one query
of plain columns (requests, files, check results) and one of votes, never as ORM
objects: a queue of 1,000 requests of two files each was 5,000 mapped objects, with
their identity map and relationship loads, on every visit of the page.  Access is
decided here as everywhere: the queue's projects (:func:`queue_projects`), then
``request read`` in each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from airlock.db import repo
from airlock.db.models import FileCheck, Request, RequestFile, Vote
from airlock.domain.states import State
from airlock.service.context import Ctx
from airlock.service.queries import queue_projects

QUEUE_LIMIT = 1000
DECIDED_LIMIT = 200


@dataclass
class FileSummary:
    id: str
    name: str
    verdict: str | None
    context: str
    exception: str | None
    checks: list[tuple[str, str]] = field(default_factory=list)  # (rule, verdict)
    statbarns: set[str] = field(default_factory=set)  # what statbarn saw (or "unknown")


@dataclass
class RequestSummary:
    id: str
    project: str
    dataset: str | None
    title: str | None
    requester: str
    state: str
    created_at: datetime
    reviewers_required: int
    files: list[FileSummary] = field(default_factory=list)
    votes: dict[str, set[str]] = field(default_factory=dict)  # file id -> who voted


@dataclass
class Queue:
    rows: list[RequestSummary]  # the oldest QUEUE_LIMIT, of the chosen project when one is
    waiting: dict[str, int]  # project -> requests in review there (all of them)


def _checks(result: Any) -> tuple[list[tuple[str, str]], str]:
    if not isinstance(result, Mapping):
        return [], "unknown"
    checks = [(str(c.get("rule", "")), str(c.get("verdict", "")))
              for c in result.get("checks", []) if isinstance(c, Mapping)]
    return checks, str(result.get("statbarn") or "unknown")


def _summaries(s: Session, ids: Select[Any], order: Sequence[Any],
               votes: bool) -> list[RequestSummary]:
    """The requests ``ids`` selects (ordered and limited there), with files and checks,
    in one query; their votes in a second."""
    chosen = ids.subquery()
    rows = s.execute(
        select(Request.id, Request.project, Request.dataset, Request.title, Request.requester,
               Request.state, Request.created_at, Request.reviewers_required,
               RequestFile.id, RequestFile.name, RequestFile.verdict, RequestFile.context,
               RequestFile.exception, FileCheck.result)
        .join(chosen, chosen.c.id == Request.id)
        .join(RequestFile, RequestFile.request_id == Request.id)  # never a request without
        .outerjoin(FileCheck, FileCheck.file_id == RequestFile.id)
        .order_by(*order, RequestFile.position, FileCheck.id)).all()
    out: dict[str, RequestSummary] = {}
    files: dict[str, FileSummary] = {}
    for (rid, project, dataset, title, requester, state, created, required,
         fid, name, verdict, context, exception, result) in rows:
        req = out.get(rid)
        if req is None:
            req = out[rid] = RequestSummary(rid, project, dataset, title, requester, state,
                                            created, required)
        f = files.get(fid)
        if f is None:
            f = files[fid] = FileSummary(fid, name, verdict, context, exception)
            req.files.append(f)
        if result is not None:
            checks, statbarn = _checks(result)
            f.checks.extend(checks)
            f.statbarns.add(statbarn)
    if votes and out:
        for rid, fid, who in s.execute(select(Vote.request_id, Vote.file_id, Vote.reviewer)
                                       .where(Vote.request_id.in_(list(out)))):
            out[rid].votes.setdefault(fid, set()).add(who)
    return list(out.values())


def queue(ctx: Ctx, user: str, project: str = "") -> Queue:
    """Requests in review that the user may read, in projects whose queue they may
    read (only ``project``'s when given), oldest first, with who has voted on which
    file; and how many wait in each of those projects."""
    projects = queue_projects(ctx, user)
    if projects == []:
        return Queue([], {})
    in_review = [State.IN_REVIEW.value]
    with ctx.db() as s:
        counted = repo.count_by_project(s, projects=projects, states=in_review)
        waiting = {p: n for p, n in counted.items()  # only projects whose requests they read
                   if ctx.authz.user_can(user, p, "request", "read")}
        chosen = [p for p in ([project] if project else waiting) if p in waiting]
        if not chosen:
            return Queue([], waiting)
        order = (Request.created_at.asc(), Request.id)
        ids = (select(Request.id).where(Request.project.in_(chosen),
                                        Request.state.in_(in_review))
               .order_by(*order).limit(QUEUE_LIMIT))
        return Queue(_summaries(s, ids, order, votes=True), waiting)


def decided(ctx: Ctx, user: str, q: str, limit: int = DECIDED_LIMIT) -> list[RequestSummary]:
    """Requests no longer in review, newest first, in the projects whose queue and
    requests the user may read; ``q`` matches the title, the requester or a file name
    (anywhere, case-insensitive) or the id (its start)."""
    projects = queue_projects(ctx, user)
    if projects == []:
        return []
    if projects is not None:
        projects = [p for p in projects if ctx.authz.user_can(user, p, "request", "read")]
    ids = select(Request.id).where(
        Request.state.notin_([State.IN_REVIEW.value, State.DRAFT.value]))
    if projects is not None:
        ids = ids.where(Request.project.in_(projects))
    if q:
        pat = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%") \
            .replace("_", "\\_") + "%"
        ids = ids.where(or_(
            func.lower(Request.title).like(pat, escape="\\"),
            func.lower(Request.requester).like(pat, escape="\\"),
            Request.id.like(pat[1:], escape="\\"),
            Request.id.in_(select(RequestFile.request_id).where(
                func.lower(RequestFile.name).like(pat, escape="\\")))))
    order = (Request.updated_at.desc(), Request.id)
    with ctx.db() as s:
        rows = _summaries(s, ids.order_by(*order).limit(limit), order, votes=False)
    # every project (projects is None: a reader of all queues) still asks per request
    return [r for r in rows if ctx.authz.user_can(user, r.project, "request", "read")]
