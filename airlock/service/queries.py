"""Reading requests: one request, the caller's own, a project's, the review queue."""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlalchemy import or_, select

from airlock.db import repo
from airlock.db.models import Request, Vote
from airlock.domain.review import same_user
from airlock.domain.states import State
from airlock.origin import Origin
from airlock.service.context import Ctx, decide, readable, require
from airlock.views import review_state
from airlock.visibility import content_visible, details_visible, hidden_event
from tre.audit import AuditEvent
from tre.authz.vocabulary import GLOBAL

Scope = Literal["mine", "queue", "project"]


def base_url(ctx: Ctx) -> str:
    return ctx.settings.airlock.base_path


def shows_content(ctx: Ctx, user: str, origin: Origin, req: Request) -> bool:
    """Whether ``user``, calling from ``origin``, may see what ``req`` holds
    (:func:`airlock.visibility.content_visible`; reviewers as the policy says)."""
    requester = same_user(user, req.requester)
    if content_visible(req.state, requester=requester, origin=origin, reviewer=False):
        return True
    reviewer = not requester and decide(ctx, user, req.project, "request", "review",
                                        req.requester).allowed
    return content_visible(req.state, requester=requester, origin=origin, reviewer=reviewer)


def shows_details(ctx: Ctx, user: str, origin: Origin, req: Request) -> bool:
    """Whether ``user``, calling from ``origin``, sees the checks' ``details``
    (:func:`airlock.visibility.details_visible`)."""
    requester = same_user(user, req.requester)
    reviewer = not requester and decide(ctx, user, req.project, "request", "review",
                                        req.requester).allowed
    return details_visible(requester=requester, origin=origin, reviewer=reviewer)


def get_view(ctx: Ctx, user: str, request_id: str,
             origin: Origin = Origin.OUTSIDE) -> dict[str, Any]:
    from airlock.views import request_view

    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id, checks=True), request_id)
        votes = repo.votes_of(s, req.id)
        release = repo.release_of(s, req.id)
        return request_view(req, user, content=shows_content(ctx, user, origin, req),
                            votes=votes, release=release, base=base_url(ctx),
                            check_details=shows_details(ctx, user, origin, req))


def queue_projects(ctx: Ctx, user: str) -> list[str] | None:
    """Projects whose queue the user may read (None: every project)."""
    if ctx.authz.user_can(user, GLOBAL, "queue", "read"):
        return None
    return [d for d in ctx.authz.domains_of(user)
            if d != GLOBAL and ctx.authz.user_can(user, d, "queue", "read")]


def list_views(
    ctx: Ctx, user: str, *, scope: Scope = "mine", project: str | None = None,
    states: list[str] | None = None, limit: int = 100, offset: int = 0,
    origin: Origin = Origin.OUTSIDE,
) -> dict[str, Any]:
    from airlock.views import request_view

    projects: list[str] | None
    requester: str | None = None
    oldest_first = False
    if scope == "mine":
        requester = user
        projects = [project] if project else None
    elif scope == "queue":
        projects = queue_projects(ctx, user)
        if project:
            projects = [project] if projects is None or project in projects else []
        states = states or [State.IN_REVIEW.value]
        oldest_first = True  # the queue is worked oldest first
    else:
        if not project:
            raise ValueError("scope=project needs a project")
        require(ctx, user, project, "request", "read", project)
        projects = [project]
    if projects == []:
        return {"requests": [], "count": 0}
    with ctx.db() as s:
        rows = repo.list_requests(s, requester=requester, projects=projects, states=states,
                                  limit=limit, offset=offset, oldest_first=oldest_first)
        visible = [r for r in rows if ctx.authz.user_can(user, r.project, "request", "read")]
        counts = repo.vote_counts(s, [r.id for r in visible])
        views = []
        for r in visible:
            view = request_view(r, user, content=shows_content(ctx, user, origin, r),
                                detail=False, base=base_url(ctx))
            view["votes_cast"] = counts.get(r.id, 0)
            views.append(view)
    return {"requests": views, "count": len(views)}


def history(ctx: Ctx, user: str, request_id: str,
            origin: Origin = Origin.OUTSIDE) -> list[dict[str, Any]]:
    """The audit events about a request and its release, oldest first (their details
    only to those who may see the request's content: they name files and quote
    comments)."""
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        release = repo.release_of(s, req.id)
        ids = [req.id] + ([release.id] if release else [])
        events = s.scalars(select(AuditEvent).where(or_(*(AuditEvent.object_id == i
                                                          for i in ids)))
                           .order_by(AuditEvent.seq)).all()
        votes = repo.votes_of(s, req.id)
        quorum = review_state(req, votes).quorum_reached
        if not shows_content(ctx, user, origin, req):
            return [hidden_event(e.as_dict()) for e in events]
        cast = {(v.file_id, v.reviewer): v for v in votes}
        return [_blind(e.as_dict(), user, quorum, cast) for e in events]


# How a reviewer voted is hidden from everyone but the voter until the quorum, as the
# review itself is blind.  Votes are sealed in the log (airlock.domain.sealing): a cast
# event holds a commitment only, and the quorum's reveal events open it.  The voter (and,
# after the quorum, everyone) sees the vote's content beside its commitment, from the vote
# row, marked "opened".
_VOTE_CONTENT = ("choice", "comment", "override", "override_reason", "authz", "nonce")


def _blind(event: dict[str, Any], viewer: str, quorum_reached: bool,
           cast: dict[tuple[str, str], Vote]) -> dict[str, Any]:
    action, details = event["action"], event["details"]
    own = same_user(event["actor"], viewer)
    legacy = action in ("airlock.vote.cast", "airlock.vote.override") and "nonce" not in details \
        and "commitment" not in details  # written before votes were sealed
    if legacy and not (quorum_reached or own):
        hidden = {k: v for k, v in details.items() if k not in _VOTE_CONTENT}
        # its hash was computed over the choice: a guess could be tested against it
        return {**event, "action": "airlock.vote.cast", "hash": None,
                "details": {**hidden, "blind": True}}
    if action != "airlock.vote.cast" or legacy:
        return event
    if not (own or quorum_reached):
        return {**event, "details": {**details, "blind": True}}
    vote = cast.get((str(details.get("file_id")), str(event["actor"])))
    if vote is None:
        return event
    seal = json.loads(vote.seal) if vote.seal else {}
    return {**event, "details": {**details, "choice": vote.choice, "comment": vote.comment,
                                 "override": bool(seal.get("override")),
                                 "override_reason": vote.override_reason, "opened": True}}
