"""What every use case needs, and the helpers they share: access checks and transitions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from airlock.db.models import Request
from airlock.domain.states import Owner, State, check_transition
from airlock.profiles import ProfileResolver
from airlock.settings import Resolved
from airlock.store import Store
from tre import audit
from tre.authz import Authz, Decision, Forbidden
from tre.authz.events import AuditAction
from tre.authz.refusals import audit_refusal
from tre.clock import Clock
from tre.db import transaction
from tre.errors import TreError

log = logging.getLogger("airlock")
SYSTEM = "system"  # the actor of the airlock's own steps (checks, automatic decisions)


class Notifier(Protocol):
    def state_changed(self, *, request_id: str, project: str, from_state: str | None,
                      to_state: str, actor: str | None = None,
                      review_url: str | None = None) -> None: ...

    def close(self, timeout: float = 10.0) -> bool: ...


class NotFound(TreError):
    """No such object, or the caller may not know it exists (answered alike: 404)."""

    code = "not_found"
    status = 404


class Conflict(TreError):
    """The object is not in a state that allows this (409); nothing was changed."""

    code = "conflict"
    status = 409


@dataclass
class Ctx:
    settings: Resolved
    db: sessionmaker[Session]
    store: Store
    authz: Authz
    clock: Clock
    notifier: Notifier
    profiles: ProfileResolver


@dataclass
class Changes:
    """State changes made in a transaction, announced once it has committed."""

    moves: list[tuple[Request, str, str, str]] = field(default_factory=list)

    def publish(self, ctx: Ctx) -> None:
        for req, src, dst, actor in self.moves:
            url = review_url(ctx, req)
            try:
                ctx.notifier.state_changed(request_id=req.id, project=req.project,
                                           from_state=src, to_state=dst, actor=actor,
                                           review_url=url)
            except Exception:  # notifications never fail a request
                log.exception("notification of %s failed", req.id)


def review_url(ctx: Ctx, req: Request) -> str:
    return f"{ctx.settings.airlock.public_url}{ctx.settings.airlock.base_path}" \
           f"/requests/{req.id}"


def move(
    ctx: Ctx, session: Session, changes: Changes, req: Request, target: State, *,
    actor: str, role: Owner, details: Mapping[str, Any] | None = None,
) -> None:
    """One lifecycle step: checked against the table, audited, its notifications written
    to the outbox in the same transaction (a durable notifier), announced after commit."""
    source = req.state
    check_transition(source, target, role)
    audit.record(session, actor=actor, action=AuditAction.REQUEST_TRANSITION,
                 object_type="request", object_id=req.id, project=req.project,
                 details={"from": source, "to": target.value, "by": role.value,
                          **(details or {})}, clock=ctx.clock)
    record = getattr(ctx.notifier, "record", None)
    if record is not None:  # airlock.outbox: the deliveries commit with the change
        record(session, request_id=req.id, project=req.project, from_state=source,
               to_state=target.value, actor=actor, review_url=review_url(ctx, req))
    req.state = target.value
    req.updated_at = ctx.clock.now()
    changes.moves.append((req, source, target.value, actor))


def decide(ctx: Ctx, user: str, project: str, obj: str, action: str,
           requester: str | None = None) -> Decision:
    """Ask the one authorisation point; ``requester`` feeds the separation-of-duty rules."""
    context = {"requester": requester} if requester is not None else None
    return ctx.authz.enforce(user, project, obj, action, context)


class Denied(TreError):
    """The authorisation point said no.  ``status`` is 404 when the user may not even
    see the object (another project's request does not exist for them), else 403.
    The API records the refusal in the audit log after the use case's transaction
    has been rolled back (:func:`record_denial`)."""

    code = "forbidden"
    status = 403

    def __init__(self, decision: Decision, object_type: str, object_id: str,
                 status: int = 403, message: str | None = None) -> None:
        self.decision, self.object_type, self.object_id = decision, object_type, object_id
        self.status = status
        self.code = "not_found" if status == 404 else "forbidden"
        super().__init__(message or str(Forbidden(decision)))


def record_denial(ctx: Ctx, exc: Denied) -> None:
    """Audit a refusal in its own transaction (never while another is open)."""
    try:
        with transaction(ctx.db) as s:
            audit_refusal(s, exc.decision, exc.object_type, exc.object_id, ctx.clock)
    except Exception:  # the refusal stands even if it cannot be recorded
        log.exception("could not audit a refusal")


def readable(ctx: Ctx, user: str, req: Request | None, request_id: str) -> Request:
    """The request, if the user may read it; otherwise 404 (never 403: another
    project's request does not exist as far as this user is concerned)."""
    if req is None:
        raise NotFound(f"no request {request_id!r}")
    d = decide(ctx, user, req.project, "request", "read")
    if not d.allowed:
        raise Denied(d, "request", req.id, 404, f"no request {request_id!r}")
    return req


def require(ctx: Ctx, user: str, project: str, obj: str, action: str, object_id: str,
            requester: str | None = None) -> Decision:
    d = decide(ctx, user, project, obj, action, requester)
    if not d.allowed:
        raise Denied(d, obj, object_id)
    return d
