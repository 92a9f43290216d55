"""Errors of the pages: shown as HTML pages, not the API's JSON.

The use cases raise the same exceptions for the pages as for the API; here they
become a :class:`PageError` with the same status code (403/404/409/422...), and
a refusal by the authorisation point is audited exactly as the API does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from airlock.domain.review import AlreadyVoted, OwnRequest, ReviewClosed, VoteError
from airlock.domain.states import IllegalTransition
from airlock.intake import IntakeError
from airlock.service.context import Conflict, Ctx, Denied, NotFound, record_denial
from airlock.service.messages import MessageRefused
from airlock.store import StoreError, TamperedError
from statbarn.errors import ProfileError
from tre.authz import Forbidden
from tre.authz.refusals import record_refusal
from tre.errors import TreError

P = ParamSpec("P")
T = TypeVar("T")


class PageError(TreError):
    code = "page"

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status, self.title, self.message = status, title, message
        super().__init__(message)


class LoginRequired(TreError):
    """No session: the page sends the browser to log in, then back to ``next_url``."""

    code = "login_required"
    status = 401

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url
        super().__init__(next_url)


def page_error(ctx: Ctx, exc: Exception) -> PageError | None:
    """The page error for a use case's exception (None: not one of ours, let it rise)."""
    if isinstance(exc, Denied):
        record_denial(ctx, exc)
        title = "Not found" if exc.status == 404 else "Not allowed"
        return PageError(exc.status, title, str(exc))
    if isinstance(exc, NotFound):
        return PageError(404, "Not found", str(exc))
    if isinstance(exc, Forbidden):
        record_refusal(ctx.db, exc.decision, exc.decision.obj, exc.decision.domain, ctx.clock)
        return PageError(403, "Not allowed", str(exc))
    if isinstance(exc, OwnRequest):
        return PageError(403, "Not allowed", str(exc))
    if isinstance(exc, AlreadyVoted | ReviewClosed):
        return PageError(409, "Vote not taken", str(exc))
    if isinstance(exc, VoteError):
        return PageError(422, "Vote not taken", str(exc))
    if isinstance(exc, IllegalTransition | Conflict):
        return PageError(409, "Not possible now", str(exc))
    if isinstance(exc, MessageRefused):
        return PageError(422, "Message not taken", str(exc))
    if isinstance(exc, IntakeError):
        return PageError(exc.status, "Refused", str(exc))
    if isinstance(exc, TamperedError):
        return PageError(500, "Integrity failure", f"refused: {exc}; the operators have been "
                         "alerted through the audit log")
    if isinstance(exc, StoreError | ProfileError):
        return PageError(500, "Service problem", str(exc))
    return None


def call(ctx: Ctx, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a use case (in a worker thread), turning its refusals into page errors."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        mapped = page_error(ctx, exc)
        if mapped is None:
            raise
        raise mapped from None
