"""The reads and writes the browser pages need beyond the API's use cases: the request
page's one-session read, the earlier releases the differencing check names, the audit
event of a page that shows file contents, a user's own requests, the catalog's project
titles, a refused login's audit event, and the browser sessions ended early.

The pages (:mod:`airlock.ui`) only render: every database read and write they cause is
here, in the service layer, and a test keeps it so (tests/unit/test_ui_layering.py).
Access is decided as the service decides it (:func:`airlock.service.context.readable`,
the queue's projects from :func:`airlock.service.queries.queue_projects`).  Rows come
back detached and fully loaded: a page reads their attributes after the session, and
blanking what a user may not see (:func:`airlock.visibility.redact_rows`) changes
nothing stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from airlock.db import repo
from airlock.db.models import LedgerEntry, Release, Request, RequestFile, Vote
from airlock.db.sessions import EndedSession
from airlock.domain.states import State
from airlock.origin import Origin
from airlock.service.context import Ctx, readable
from airlock.service.queries import base_url, shows_content, shows_details
from airlock.views import request_view
from airlock.visibility import hidden_event, redact_rows
from tre import audit
from tre.audit import AuditEvent
from tre.authz import Decision
from tre.authz.events import AuditAction, decision_details
from tre.catalog.service import list_projects
from tre.db import transaction


@dataclass
class Loaded:
    """A request as the API shows it to this user (``view``: blind votes), plus the
    rows the page needs besides (the checks' evidence) and its audit trail."""

    req: Request
    view: dict[str, Any]
    votes: list[Vote]
    events: list[dict[str, Any]]


def load_request(ctx: Ctx, user: str, request_id: str) -> Loaded:
    """One session for everything the request page reads.  The audit trail is the same
    query as :func:`airlock.service.queries.history`, run here because that function
    loads the request again, with every check's evidence (a 200 x 50 table's is
    half a megabyte of JSON), only to check access that was checked here already."""
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id, checks=True), request_id)
        votes = repo.votes_of(s, req.id)
        release = repo.release_of(s, req.id)
        # A browser is outside the TRE: a request's content only as airlock.visibility says.
        shown = shows_content(ctx, user, Origin.OUTSIDE, req)
        view = request_view(req, user, content=shown, votes=votes, release=release,
                            base=base_url(ctx),
                            check_details=shows_details(ctx, user, Origin.OUTSIDE, req))
        ids = [req.id] + ([release.id] if release else [])
        events = [e.as_dict() for e in s.scalars(
            select(AuditEvent).where(AuditEvent.object_id.in_(ids)).order_by(AuditEvent.seq))]
        s.expunge_all()  # detached, fully loaded: the page reads them after the session
        if not shown:
            redact_rows(req, votes)
            events = [hidden_event(e) for e in events]
        return Loaded(req, view, votes, events)


@dataclass(frozen=True)
class Earlier:
    """A released file that the differencing check compared this request with."""

    release_id: str
    request_id: str
    released_at: datetime
    file_id: str
    name: str
    kind: str
    sha256: str


def earlier_releases(ctx: Ctx, project: str, release_ids: Iterable[str]) -> list[Earlier]:
    ids = sorted(set(release_ids))
    if not ids:
        return []
    with ctx.db() as s:
        rows = s.execute(
            select(Release.id, Release.request_id, Release.released_at, RequestFile.id,
                   RequestFile.name, RequestFile.kind, RequestFile.sha256)
            .join(LedgerEntry, LedgerEntry.release_id == Release.id)
            .join(RequestFile, RequestFile.id == LedgerEntry.file_id)
            .where(Release.id.in_(ids), Release.project == project)
            .order_by(Release.released_at, RequestFile.position)
        ).all()
    return [Earlier(*r) for r in rows]


def record_views(ctx: Ctx, user: str, req: Request, shown: Sequence[tuple[str, str, str, bool]],
                 decision: Decision) -> None:
    """Audit that a page showed these files' contents: (file id, name, sha256, alternative).
    The same event the API's preview writes, so one query finds every look at a file."""
    if not shown:
        return
    with transaction(ctx.db) as s:
        for file_id, name, sha, alternative in shown:
            audit.record(s, actor=user, action=AuditAction.FILE_VIEW, object_type="request",
                         object_id=req.id, project=req.project, clock=ctx.clock,
                         details={"file_id": file_id, "name": name, "sha256": sha,
                                  "alternative": alternative, "via": "review page",
                                  **decision_details(decision)})


def name_files(ctx: Ctx, request_id: str, message: str) -> str:
    """``message`` with the request's file ids (as the domain quotes them) replaced by
    the files' names: a checker knows ``rare.csv``, not ``'3f2a…'``."""
    with ctx.db() as s:
        pairs = s.execute(select(RequestFile.id, RequestFile.name)
                          .where(RequestFile.request_id == request_id)).all()
    for file_id, name in pairs:
        message = message.replace(f"file {file_id!r}", name).replace(f"{file_id!r}", name)
        message = message.replace(file_id, name)
    return message


def own_requests(ctx: Ctx, user: str, limit: int = 200) -> list[tuple[Request, list[Vote],
                                                                      dict[str, Any]]]:
    """The user's requests, newest first, each with its votes and the user's view."""
    with ctx.db() as s:
        # The same object-level rule as the API: one's own requests, where one may still
        # read requests (a suspended user, or an ended membership, sees none of them).
        reqs = [r for r in repo.list_requests(s, requester=user, limit=limit, with_checks=True)
                if ctx.authz.user_can(user, r.project, "request", "read")]
        ids = [r.id for r in reqs]
        votes: dict[str, list[Vote]] = {i: [] for i in ids}
        if ids:
            for v in s.scalars(select(Vote).where(Vote.request_id.in_(ids)).order_by(Vote.id)):
                votes[v.request_id].append(v)
        out, hidden = [], []
        for r in reqs:
            release = repo.release_of(s, r.id) if r.state == State.RELEASED.value else None
            shown = shows_content(ctx, user, Origin.OUTSIDE, r)  # a browser is outside
            out.append((r, votes[r.id], request_view(r, user, content=shown, votes=votes[r.id],
                                                     release=release, base=base_url(ctx))))
            if not shown:
                hidden.append(r)
        s.expunge_all()
        for r in hidden:  # detached: blanking them changes nothing stored
            redact_rows(r, votes[r.id])
        return out


def project_titles(ctx: Ctx) -> dict[str, str]:
    """The catalog's projects, name to title (the governance page lists their profiles)."""
    with ctx.db() as s:
        return {p.name: p.title for p in list_projects(s)}


def record_login_refused(ctx: Ctx, user: str, reason: str, via: str) -> None:
    """Audit a browser login that was refused (a suspended user gets no session)."""
    with transaction(ctx.db) as s:
        audit.record(s, actor=user, action=AuditAction.LOGIN_REFUSED, object_type="user",
                     object_id=user, clock=ctx.clock, details={"reason": reason, "via": via})


def end_session(ctx: Ctx, sid: str, user: str, expires: float, why: str) -> None:
    """Record that browser session ``sid`` has ended (logout, suspension); forget sessions
    that have expired anyway (airlock.ui.revocation)."""
    now = time.time()
    try:
        with transaction(ctx.db) as s:
            s.execute(delete(EndedSession).where(EndedSession.expires < now))
            s.add(EndedSession(sid=sid, user=user, ended_at=now, expires=expires, why=why))
    except IntegrityError:  # ended twice (two tabs logging out): ended all the same
        pass


def session_ended(ctx: Ctx, sid: str) -> bool:
    """Whether browser session ``sid`` was ended before its cookie expires."""
    with ctx.db() as s:
        return s.scalar(select(EndedSession.sid).where(EndedSession.sid == sid)) is not None
