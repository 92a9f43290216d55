"""What the API shows of a request, to whom.  Plain dicts (JSON), built in one place.

Votes are shown through :func:`airlock.domain.review.visible_votes`: blind until
the quorum is reached, except the viewer's own.  Evidence (individual
contributions) is never shown; check results are (they are what a checker and
the researcher need to see), and so is each file's safe alternative summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airlock.db.models import Release, Request, RequestFile, Vote
from airlock.domain import review
from airlock.domain.states import owner_of
from airlock.visibility import hidden_view
from tre.clock import utc


def when(at: datetime) -> str:
    """ISO 8601 in UTC with its offset, whichever engine the time came from (SQLite
    hands back naive datetimes)."""
    return utc(at).isoformat()


def _vote(v: Vote) -> review.Vote:
    return review.Vote(v.reviewer, v.file_id, review.VoteChoice(v.choice), v.comment,
                       v.override_reason)


def review_state(req: Request, votes: Sequence[Vote]) -> review.ReviewOutcome:
    return review.tally([_vote(v) for v in votes], [f.id for f in req.files],
                        req.reviewers_required)


def _without_details(result: Any) -> Any:
    """A check record's result without its checks' ``details`` (copies: the row's JSON is
    not changed)."""
    if not isinstance(result, dict) or not isinstance(result.get("checks"), list):
        return result
    return {**result, "checks": [{k: v for k, v in c.items() if k != "details"}
                                 if isinstance(c, dict) else c for c in result["checks"]]}


def file_view(f: RequestFile, *, checks: bool, details: bool = False) -> dict[str, Any]:
    alt = f.alternative
    out: dict[str, Any] = {
        "id": f.id, "name": f.name, "kind": f.kind, "media_type": f.media_type,
        "size": f.size, "sha256": f.sha256, "context": f.context, "exception": f.exception,
        "population": f.population, "verdict": f.verdict,
        "has_evidence": f.sidecar_sha256 is not None,
        # sha256 is what was checked and is shown and released; for a canonical copy
        # the submitted file's hash and what was removed are here
        "submitted_sha256": (f.canonical or {}).get("submitted_sha256", f.sha256),
        "canonical": f.canonical,
        "alternative": None if alt is None else {
            k: alt.get(k) for k in ("name", "sha256", "size", "method", "verdict", "suppressed")},
    }
    if checks:
        out["checks"] = [{"subject": c.subject, "verdict": c.verdict,
                          "profile": {"name": c.profile_name, "version": c.profile_version},
                          "tool": c.tool_version,
                          "result": c.result if details else _without_details(c.result)}
                         for c in f.checks]
    return out


def request_view(
    req: Request, viewer: str, *, content: bool, votes: Sequence[Vote] = (),
    release: Release | None = None, detail: bool = True, base: str = "",
    check_details: bool = False,
) -> dict[str, Any]:
    """``content``: whether this viewer, from where they call, may see what the request
    holds (:func:`airlock.visibility.content_visible`); if not, only its state, dates
    and number of files are shown.  ``check_details``: whether the checks' ``details``
    are kept (:func:`airlock.visibility.details_visible`): a differencing check's hold
    the earlier releases' cells, contributor counts that were never released included."""
    url = f"{base}/api/requests/{req.id}"
    out: dict[str, Any] = {
        "id": req.id, "project": req.project, "dataset": req.dataset, "title": req.title,
        "requester": req.requester, "state": req.state, "owner": owner_of(req.state).value,
        "created_at": when(req.created_at), "updated_at": when(req.updated_at),
        "derived_from": req.derived_from,
        "profile": {"name": req.profile_name, "version": req.profile_version,
                    "reviewers_required": req.reviewers_required},
        "decision": req.decision,
        "files": [file_view(f, checks=detail, details=check_details) for f in req.files],
        "release": None if release is None else {
            "id": release.id, "released_at": when(release.released_at),
            "record_sha256": release.record_sha256, "bundle": f"{url}/bundle"},
        "links": {"self": url, "bundle": f"{url}/bundle", "withdraw": f"{url}/withdraw",
                  "votes": f"{url}/votes", "submit": f"{url}/submit",
                  "resubmit_safe_alternative": f"{url}/resubmit-safe-alternative"},
    }
    if detail and req.files:
        outcome = review_state(req, votes)
        out["review"] = {
            "reviewers_required": req.reviewers_required,
            "quorum_reached": outcome.quorum_reached,
            "voters": outcome.voters,
            "votes": review.visible_votes([_vote(v) for v in votes], viewer,
                                          outcome.quorum_reached),
        }
    return out if content else hidden_view(out)
