"""A request's conversation: the researcher and the checkers, and checkers' notes.

Who may write: the requester (to everyone: ``audience="all"``), and anyone the
policy lets review the request (to everyone, or a note to checkers only).
Operators and custodians who only read the request do not write in it.
Who may read: every message to everyone, by anyone who may read the request; a
checkers' note, by anyone who may read the request except its requester.

Blind review: before the quorum, a reviewer is not shown what other checkers
wrote (a message can say how they voted); they see that a message exists.  The
requester is no voter, and sees every message to everyone at once.

Bounded (:mod:`airlock.review_limits`), inserted only, and audited with its text
(``airlock.message.post``) in the same transaction.  Messages never leave the
TRE: they are not part of a release bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from airlock.db import repo
from airlock.db.models import Message
from airlock.domain.review import same_user
from airlock.freetext import TextRefused as FreeTextRefused
from airlock.freetext import check_text
from airlock.review_limits import (
    MESSAGE_MAX_CHARS,
    MESSAGES_PER_REQUEST,
    REQUESTER_MESSAGE_CHARS,
    TextRefused,
    check_message,
)
from airlock.service.context import Conflict, Ctx, readable, require
from tre import audit
from tre.authz.events import AuditAction
from tre.db import transaction
from tre.errors import TreError

AUDIENCES = ("all", "checkers")


class MessageRefused(TreError, ValueError):
    """A message that is not taken; the text says why, for the person who wrote it."""

    code = "message_refused"
    status = 422


@dataclass(frozen=True)
class Shown:
    author: str
    audience: str
    body: str | None  # None: hidden until the quorum (another checker's)
    at: datetime
    own: bool


def post(ctx: Ctx, user: str, request_id: str, body: str | None, audience: str) -> None:
    if audience not in AUDIENCES:
        raise MessageRefused(f"audience {audience[:20]!r} is not one of: all, checkers")
    try:
        text = check_message(body)
    except TextRefused as exc:
        raise MessageRefused(str(exc)) from None
    try:  # scanned like every free-text field: identifiers, encoded data, records
        check_text(text, "the message", MESSAGE_MAX_CHARS)
    except FreeTextRefused as exc:
        raise MessageRefused(str(exc)) from None
    with transaction(ctx.db) as s:
        req = readable(ctx, user, repo.get_request(s, request_id, lock=True), request_id)
        own = same_user(req.requester, user)
        if own and audience != "all":
            raise MessageRefused("a note for checkers only is written by a checker")
        if not own:
            require(ctx, user, req.project, "request", "review", req.id, req.requester)
        count = s.scalar(select(func.count()).select_from(Message)
                         .where(Message.request_id == req.id)) or 0
        if own:
            written = s.scalar(select(func.coalesce(func.sum(func.length(Message.body)), 0))
                               .where(Message.request_id == req.id,
                                      Message.author == req.requester)) or 0
            if written + len(text) > REQUESTER_MESSAGE_CHARS:
                raise MessageRefused(
                    f"this message would bring what you have written on this request to "
                    f"{written + len(text):,} characters, more than the "
                    f"{REQUESTER_MESSAGE_CHARS:,} a request's conversation takes from its "
                    "researcher: say it in fewer words, or resubmit the request")
        if count >= MESSAGES_PER_REQUEST:
            raise Conflict(f"this request already has {MESSAGES_PER_REQUEST} messages, the "
                           "most one request takes; resubmit it to start afresh")
        now = ctx.clock.now()
        s.add(Message(request_id=req.id, author=user, audience=audience, body=text,
                      created_at=now))
        audit.record(s, actor=user, action=AuditAction.MESSAGE_POST, object_type="request",
                     object_id=req.id, project=req.project, clock=ctx.clock,
                     details={"audience": audience, "body": text, "chars": len(text)})


def shown(ctx: Ctx, user: str, request_id: str, requester: str, quorum_reached: bool,
          reviewer: bool) -> list[Shown]:
    """The messages of a request ``user`` may read (the caller has checked they may read
    the request), oldest first, blind where the review is blind."""
    own_request = same_user(requester, user)
    with ctx.db() as s:
        rows = list(s.scalars(select(Message).where(Message.request_id == request_id)
                              .order_by(Message.id)))
    out = []
    for m in rows:
        if m.audience != "all" and own_request:
            continue
        mine = same_user(m.author, user)
        hidden = (reviewer and not quorum_reached and not mine
                  and not same_user(m.author, requester))
        out.append(Shown(m.author, m.audience, None if hidden else m.body, m.created_at, mine))
    return out
