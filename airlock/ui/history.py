"""A request's audit trail in sentences, blind where the review is blind.

A vote's audit event is sealed (:mod:`airlock.domain.sealing`): it says who voted on
which file, and holds a commitment, not the choice.  The quorum's reveal events carry
the choices and comments.  Events written before votes were sealed carry the choice:
those details are shown only for the viewer's own votes, or once the quorum is reached
(the same rule as :func:`airlock.domain.review.visible_votes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airlock.domain.review import same_user

_CHOICES = {"approve": "approved", "reject": "rejected", "request_changes": "requested changes to"}


@dataclass(frozen=True)
class EventRow:
    seq: int
    at: str
    actor: str
    action: str
    text: str
    flagged: bool = False  # an override or a refusal: stands out in the list


def _files(details: dict[str, Any]) -> str:
    names = [str(f.get("name")) for f in details.get("files", []) if isinstance(f, dict)]
    return ", ".join(names)


def sentence(action: str, details: dict[str, Any], visible: bool,
             quorum_reached: bool = False) -> str:
    d = details
    if action == "airlock.request.create":
        return f"created the request with {_files(d) or 'no files'}"
    if action == "airlock.request.transition":
        return f"moved the request from {d.get('from')} to {d.get('to')}"
    if action in ("airlock.vote.cast", "airlock.vote.override", "airlock.vote.reveal"):
        file = d.get("file") or d.get("file_id")
        if "commitment" in d and "nonce" not in d:  # sealed
            return (f"voted on {file} (sealed; revealed at the quorum)" if quorum_reached else
                    f"voted on {file} (how is hidden until the quorum is reached)")
        if not visible:
            return f"voted on {file} (how is hidden until the quorum is reached)"
        text = f"{_CHOICES.get(str(d.get('choice')), d.get('choice'))} {file}"
        if d.get("comment"):
            text += f": “{d['comment']}”"
        if d.get("override"):
            text += f" (overriding the automated fail: “{d.get('override_reason')}”)"
        return text
    if action == "airlock.file.view":
        what = "the safe alternative " if d.get("alternative") else ""
        return f"viewed {what}{d.get('name')}"
    if action == "airlock.message.post":
        if not visible:
            return "wrote in the conversation (shown once the quorum is reached)"
        return ("wrote a note for checkers" if d.get("audience") == "checkers"
                else "wrote in the conversation") + f" ({d.get('chars')} characters)"
    if action == "airlock.release.download":
        return "downloaded the release bundle"
    if action == "airlock.access.denied":
        return f"was refused: {d.get('action')} {d.get('object')}"
    if action == "airlock.integrity.refused":
        return f"integrity check refused a file: {d.get('reason')}"
    text = json.dumps({k: v for k, v in d.items() if k != "authz"}, ensure_ascii=False,
                      default=str)
    return text if len(text) <= 300 else text[:300] + "…"


def _view_key(e: dict[str, Any]) -> tuple[str, str, str] | None:
    d = e.get("details") if isinstance(e.get("details"), dict) else None
    if e.get("action") != "airlock.file.view" or d is None:
        return None
    return (str(e.get("actor")), str(d.get("file_id")), str(d.get("alternative")))


def rows(events: list[dict[str, Any]], viewer: str, quorum_reached: bool,
         requester: str | None = None) -> list[EventRow]:
    """Every event in order, except that looks at one file by one person are one row
    (the last, with how many times): each page load records one per file shown, and
    fifty "viewed" rows would bury the votes.  The audit log itself keeps every one."""
    views: dict[tuple[str, str, str], int] = {}
    last: dict[tuple[str, str, str], int] = {}
    for i, e in enumerate(events):
        k = _view_key(e)
        if k is not None:
            views[k] = views.get(k, 0) + 1
            last[k] = i
    out = []
    for i, e in enumerate(events):
        k = _view_key(e)
        if k is not None and last[k] != i:
            continue
        actor, action = str(e.get("actor")), str(e.get("action"))
        details = e.get("details") if isinstance(e.get("details"), dict) else {}
        visible = quorum_reached or same_user(actor, viewer)
        if action == "airlock.message.post" and requester is not None:
            if (details or {}).get("audience") == "checkers" and same_user(viewer, requester):
                continue  # a checkers' note does not exist for the researcher
            visible = visible or same_user(actor, requester)
        text = sentence(action, details or {}, visible, quorum_reached)
        if k is not None and views[k] > 1:
            text += f" ({views[k]} times; this is the last)"
        if action.startswith("airlock.vote.") and not visible:
            action = "airlock.vote"  # "override" alone would say it was an approval
        out.append(EventRow(int(e.get("seq", 0)), str(e.get("at", ""))[:19].replace("T", " "),
                            actor, action, text,
                            action in ("airlock.vote.override", "airlock.access.denied",
                                       "airlock.integrity.refused")))
    return out
