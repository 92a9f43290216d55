"""The one place refusals are audited: the airlock's routes and pages, the catalog and
governance commands all write a refusal of the authorisation point here, in one shape
(:data:`~tre.authz.events.AuditAction.ACCESS_DENIED`, the decision under ``authz``)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz.enforcer import Decision
from tre.authz.events import AuditAction, decision_details
from tre.clock import Clock
from tre.db import transaction

log = logging.getLogger(__name__)


def audit_refusal(session: Session, decision: Decision, object_type: str, object_id: str,
                  clock: Clock | None = None) -> None:
    """Record a refusal in the caller's transaction (one that is not rolled back)."""
    project = decision.domain if decision.domain != "*" else None
    audit.record(session, actor=decision.subject, action=AuditAction.ACCESS_DENIED.value,
                 object_type=object_type, object_id=object_id, project=project,
                 details=decision_details(decision), clock=clock)


def record_refusal(factory: sessionmaker[Session], decision: Decision, object_type: str,
                   object_id: str, clock: Clock | None = None) -> None:
    """Record a refusal in its own transaction (never while another is open); the refusal
    stands even if it cannot be recorded."""
    try:
        with transaction(factory) as s:
            audit_refusal(s, decision, object_type, object_id, clock)
    except Exception:
        log.exception("could not audit a refusal")
