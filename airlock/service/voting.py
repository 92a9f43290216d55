"""Output checkers' votes, and the decision they make once the quorum is reached.

One transaction per call: the request row is locked (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite serialises writers anyway), the votes so far are read,
each new vote is checked by :func:`airlock.domain.review.check_vote` and stored
(a unique key on file and reviewer backs this up), and the tally decides.  Two
reviewers voting at the same moment therefore produce exactly the votes cast
and exactly one state change.  Approving a file the checks failed is an
override: it needs the ``request override`` permission and a written reason,
and its audit event is ``airlock.vote.override`` so it stands out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airlock.db import repo
from airlock.db.models import Vote
from airlock.domain import review
from airlock.domain.states import Owner, State
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


def cast(ctx: Ctx, user: str, request_id: str, ballots: Sequence[Ballot]) -> None:
    if not ballots:
        raise review.VoteError("no vote given")
    changes = Changes()
    with transaction(ctx.db) as s:
        req = readable(ctx, user, repo.get_request(s, request_id, lock=True, checks=True),
                       request_id)
        d = require(ctx, user, req.project, "request", "review", req.id, req.requester)
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
            vote = Vote(request_id=req.id, file_id=b.file_id, reviewer=user,
                        choice=choice.value, comment=b.comment,
                        override_reason=b.override_reason, created_at=now)
            s.add(vote)
            rows.append(vote)
            existing.append(_domain(vote))
            audit.record(
                s, actor=user,
                action=AuditAction.VOTE_OVERRIDE if override else AuditAction.VOTE_CAST,
                object_type="request", object_id=req.id, project=req.project, clock=ctx.clock,
                details={"file_id": b.file_id, "file": f.name if f else None,
                         "choice": choice.value, "comment": b.comment,
                         "override": override, "override_reason": b.override_reason,
                         "automated_verdict": verdict,
                         **decision_details(allowed)})
        s.flush()
        outcome = review_state(req, rows)
        if outcome.decided and outcome.state is not None:
            target = State(outcome.state)
            req.decision = {
                "outcome": target.value, "by": "review", "voters": outcome.voters,
                "per_file": outcome.per_file,
                "overrides": [{"reviewer": o.reviewer, "file_id": o.file_id,
                               "reason": o.override_reason} for o in outcome.overrides],
                "automatic": req.decision,
            }
            move(ctx, s, changes, req, target, actor=user, role=Owner.CHECKER,
                 details={"voters": outcome.voters, "overrides": len(outcome.overrides)})
            if target is State.APPROVED:
                release_request(ctx, s, changes, req)
    changes.publish(ctx)
