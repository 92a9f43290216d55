"""Who sees what a researcher wrote, from where (issue: free text is data leaving the TRE).

Everything a researcher puts in a request (file names, contexts, exception
justifications, populations) and everything derived from the files (check
results and decision reasons name table cells by their labels, file sizes and
digests are chosen by whoever chose the bytes) can carry data.  So, from outside
the TRE, a request shows its content only once a checker has reviewed it or it
has been released:

===================================  =====================================================
the requester, inside a workspace    everything, in every state
a reviewer of the request            everything once it is submitted (not a draft, not
                                     withdrawn): reviewing it is their job
anyone who may read it, outside      everything once a checker has reviewed it and not
                                     refused it (``returned``: the checker's comments are
                                     for the researcher to act on) or it is ``approved``
                                     or ``released``; otherwise (a draft, one being checked
                                     or in review, a rejected or withdrawn one) the state,
                                     the dates and the count of files only, with a
                                     sentence saying where to look
===================================  =====================================================

"Inside" is :class:`airlock.origin.Origin`, decided once per call.  The pages are
always outside (a browser is).
"""

from __future__ import annotations

from typing import Any

from airlock.db.models import Request, Vote
from airlock.domain.states import State
from airlock.origin import Origin

SHOWN_OUTSIDE = frozenset({State.RETURNED.value, State.APPROVED.value, State.RELEASED.value})
NEVER_REVIEWED = frozenset({State.DRAFT.value, State.WITHDRAWN.value})
HIDDEN = ("What this request holds (file names, contexts, justifications, check results and "
          "comments) is shown only inside the workspace that wrote it until a checker has "
          "reviewed it: open it from your workspace (tre airlock status).")


def content_visible(state: str, *, requester: bool, origin: Origin, reviewer: bool) -> bool:
    if requester and origin is Origin.WORKSPACE:
        return True
    if state in SHOWN_OUTSIDE:
        return True
    return reviewer and state not in NEVER_REVIEWED


def details_visible(*, requester: bool, origin: Origin, reviewer: bool) -> bool:
    """Whether a request's checks come with their ``details`` (a differencing check's:
    the earlier releases' cells, the new table's, the cells combined).  They are the
    review's material, not the request's content: an earlier release of means kept its
    contributor counts, which never left, and it may be another researcher's.  So the
    bundle drops them (:mod:`airlock.service.release`), and so does every view outside
    the TRE but a reviewer's (reviewing it is their job; the review page shows them).
    Inside the workspace the requester has the data they were counted from."""
    return (requester and origin is Origin.WORKSPACE) or reviewer


def bare_decision(decision: Any) -> Any:
    """A decision without its reasons (they quote cells and file names): the outcomes."""
    if not isinstance(decision, dict):
        return decision
    out = {k: decision[k] for k in ("outcome", "by") if k in decision}
    if "automatic" in decision:
        out["automatic"] = bare_decision(decision["automatic"])
    return out


def hidden_view(view: dict[str, Any]) -> dict[str, Any]:
    """A request view (airlock.views.request_view) with its content taken out.

    What stays is the platform's: the id, the project (a catalog name the caller is a
    member of), the requester, the state, the dates, ``derived_from`` (a request id),
    the profile, the release and the links.  The ``dataset`` goes: it is checked against
    the catalog only for a project that has one, otherwise it is 200 characters the
    researcher chose."""
    return {
        **view,
        "dataset": None,
        "files": [],
        "title": None,  # free text the researcher typed, like the files' contexts
        "file_count": len(view.get("files") or []),
        "decision": bare_decision(view.get("decision")),
        "review": None,
        "content_hidden": HIDDEN,
    }


def hidden_event(event: dict[str, Any]) -> dict[str, Any]:
    """An audit event of a hidden request: what happened and when, not its details.  Its
    leaf hash goes too: it is computed over the details, so a guess could be tested."""
    return {**event, "hash": None, "details": {"content_hidden": True}}


def redact_rows(req: Request, votes: list[Vote]) -> None:
    """Take the content out of *detached* rows before a page renders them (the pages
    read rows as well as views), as :func:`hidden_view` does for a view.  Never call
    this on rows attached to a session that commits."""
    req.files = []
    req.title = None
    req.dataset = None
    for v in votes:
        v.comment = v.override_reason = None
    req.decision = bare_decision(req.decision)
