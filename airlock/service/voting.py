"""Output checkers' votes, and the decision they make once the quorum is reached.

One transaction per call: the request row is locked (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite serialises writers anyway), the votes so far are read,
each new vote is checked by :func:`airlock.domain.review.check_vote` and stored
(a unique key on file and reviewer backs this up), and the tally decides.  Two
reviewers voting at the same moment therefore produce exactly the votes cast
and exactly one state change.  Approving a file the checks failed is an
override: it needs the ``request override`` permission and a written reason.

Votes are sealed in the audit log (:mod:`airlock.domain.sealing`): before the quorum a
vote's event (``airlock.vote.cast``, whatever the choice) carries a commitment, not the
choice, and nothing else that depends on it; the vote row keeps the nonce.  The
transaction that reaches the quorum reveals every vote (``airlock.vote.reveal``, or
``airlock.vote.override`` for an override, so it stands out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from airlock.db import repo
from airlock.db.models import Request, Vote
from airlock.domain import review, sealing
from airlock.domain.states import Owner, State
from airlock.freetext import check_text
from airlock.service import recheck
from airlock.service.context import Changes, Conflict, Ctx, move, readable, require
from airlock.service.release import release_request
from airlock.views import review_state
from tre import audit
from tre.authz.events import AuditAction, decision_details
from tre.db import transaction


@dataclass(frozen=True)
class Ballot:
    file_id: str
    choice: str
    comment: str | None = None
    override_reason: str | None = None


def _domain(v: Vote) -> review.Vote:
    return review.Vote(v.reviewer, v.file_id, review.VoteChoice(v.choice), v.comment,
                       v.override_reason)


def _bounded(ctx: Ctx, ballots: Sequence[Ballot]) -> list[Ballot]:
    """Comments and override reasons are free text shown outside: bounded and scanned."""
    limit = ctx.settings.airlock.max_text_chars
    return [Ballot(b.file_id, b.choice,
                   check_text(b.comment, f"the comment on file {b.file_id[:64]}", limit),
                   check_text(b.override_reason,
                              f"the override reason for file {b.file_id[:64]}", limit))
            for b in ballots]


def cast(ctx: Ctx, user: str, request_id: str, ballots: Sequence[Ballot]) -> None:
    if not ballots:
        raise review.VoteError("no vote given")
    changes = Changes()
    # Read before the transaction: the profile resolver opens a session of its own, which
    # on SQLite would wait for this one's turn.
    with ctx.db() as s:
        project = s.scalar(select(Request.project).where(Request.id == request_id))
    any_dataset = project is not None and not ctx.profiles.info(project).in_catalog
    with transaction(ctx.db) as s:
        req = readable(ctx, user, repo.get_request(s, request_id, lock=True, checks=True),
                       request_id)
        d = require(ctx, user, req.project, "request", "review", req.id, req.requester)
        ballots = _bounded(ctx, ballots)
        if req.state != State.IN_REVIEW.value:
            raise Conflict(f"the request is {req.state}, not in review: no votes are taken")
        rows = repo.votes_of(s, req.id)
        existing = [_domain(v) for v in rows]
        files = {f.id: f for f in req.files}
        now = ctx.clock.now()
        for b in ballots:
            f = files.get(b.file_id)
            verdict = f.verdict if f is not None and f.verdict else "escalate"
            try:
                choice = review.VoteChoice(b.choice)
            except ValueError:
                raise review.VoteError(f"{b.choice!r} is not a vote; choose approve, reject "
                                       "or request_changes") from None
            override = review.needs_override(choice, verdict)
            allowed = [d]
            if override:
                allowed.append(require(ctx, user, req.project, "request", "override", req.id,
                                       req.requester))
            review.check_vote(reviewer=user, requester=req.requester, file_id=b.file_id,
                              choice=choice, comment=b.comment,
                              override_reason=b.override_reason, automated_verdict=verdict,
                              existing=existing, file_ids=list(files),
                              reviewers_required=req.reviewers_required)
            nonce = sealing.new_nonce()
            extra = [x.audit_details() for x in allowed[1:]]  # the override's: sealed too
            opened = sealing.opening(choice.value, b.comment, override, b.override_reason,
                                     extra)
            vote = Vote(request_id=req.id, file_id=b.file_id, reviewer=user,
                        choice=choice.value, comment=b.comment,
                        override_reason=b.override_reason, created_at=now,
                        seal=json.dumps({"nonce": nonce.hex(), "override": override,
                                         "authz": extra}))
            s.add(vote)
            rows.append(vote)
            existing.append(_domain(vote))
            audit.record(
                s, actor=user, action=AuditAction.VOTE_CAST,
                object_type="request", object_id=req.id, project=req.project, clock=ctx.clock,
                details={"file_id": b.file_id, "file": f.name if f else None,
                         "automated_verdict": verdict,
                         "commitment": sealing.commitment(nonce, opened),
                         # only the review's decision: the override's is sealed with the vote
                         **decision_details([d])})
        s.flush()
        outcome = review_state(req, rows)
        if outcome.quorum_reached:
            reveal(ctx, s, req, rows)
        if outcome.decided and outcome.state is not None:
            target = State(outcome.state)
            meanwhile = recheck.released_meanwhile(s, req, any_dataset=any_dataset) \
                if target is State.APPROVED else []
            if meanwhile:  # approved on what the checker saw; not releasable now
                target = State.RETURNED
            req.decision = {
                "outcome": target.value, "by": "review", "voters": outcome.voters,
                "per_file": outcome.per_file,
                "overrides": [{"reviewer": o.reviewer, "file_id": o.file_id,
                               "reason": o.override_reason} for o in outcome.overrides],
                "automatic": req.decision,
                **({"released_meanwhile": meanwhile} if meanwhile else {}),
            }
            move(ctx, s, changes, req, target, actor=user, role=Owner.CHECKER,
                 details={"voters": outcome.voters, "overrides": len(outcome.overrides),
                          **({"released_meanwhile": meanwhile} if meanwhile else {})})
            if target is State.APPROVED:
                release_request(ctx, s, changes, req)
    changes.publish(ctx)


def reveal(ctx: Ctx, s: Session, req: Request, rows: Sequence[Vote]) -> None:
    """At the quorum: each sealed vote's opening and nonce, in the log for anyone to check
    against the commitment written when it was cast."""
    names = {f.id: f.name for f in req.files}
    for v in rows:
        if v.seal is None:
            continue
        seal = json.loads(v.seal)
        override = bool(seal.get("override"))
        opened = sealing.opening(v.choice, v.comment, override, v.override_reason,
                                 list(seal.get("authz") or []))
        nonce = str(seal["nonce"])
        audit.record(
            s, actor=v.reviewer,
            action=AuditAction.VOTE_OVERRIDE if override else AuditAction.VOTE_REVEAL,
            object_type="request", object_id=req.id, project=req.project, clock=ctx.clock,
            details={"file_id": v.file_id, "file": names.get(v.file_id), **opened,
                     "nonce": nonce,
                     "commitment": sealing.commitment(bytes.fromhex(nonce), opened)})
