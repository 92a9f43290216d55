"""Ending browser sessions at once: logout and suspension (issue 13).

The session cookie is signed, so every worker can read it without a shared store;
on its own it would stay valid until it expires (8 hours), after a logout too.
This table lists the sessions that ended early: a logout writes its session id,
and every request with a logged-in cookie is checked against it (one primary-key
read).  A user who is suspended (holds the ``suspended`` role now, as the policy
in force says, within ``TRE_POLICY_POLL_SECONDS`` of the change) has their session
ended at their next request.  Rows are kept until the cookie would have expired,
then deleted.
"""

from __future__ import annotations

from airlock.service import pages
from airlock.service.context import Ctx
from airlock.ui.session import Session

SUSPENDED = "suspended"


def end_session(ctx: Ctx, session: Session, why: str) -> None:
    """Record that ``session`` has ended; forget sessions that have expired anyway."""
    pages.end_session(ctx, session.sid, session.user or "", session.exp, why)


def suspended(ctx: Ctx, user: str) -> bool:
    return any(a.role == SUSPENDED for a in ctx.authz.memberships(user))


def is_live(ctx: Ctx, session: Session) -> bool:
    """Whether a logged-in session may still act: not logged out, the user not suspended
    (then the session is ended here, for good)."""
    if session.user is None:
        return True
    if pages.session_ended(ctx, session.sid):
        return False
    if suspended(ctx, session.user):
        end_session(ctx, session, "suspended")
        return False
    return True
