"""Human review of an export request: who may vote, what a vote needs, and what the votes decide.

Pure logic, no I/O: the caller loads the request's votes, asks :func:`check_vote` before it
stores a new one (in the same transaction), and asks :func:`tally` afterwards whether the
review is decided.  The rules (DESIGN.md section 3, the airlock issue):

* **Reviewers required.**  Each disclosure profile asks for 1 or 2 reviewers.  Every file of
  the request is voted on separately (approve, reject, request changes).
* **Quorum.**  The review is decided when ``reviewers_required`` distinct reviewers have voted
  on *every* file.  A file that already has its ``reviewers_required`` votes takes no more:
  each file gets exactly that many independent reviews, so nobody can out-vote or "break a
  tie" after seeing how a review is going, and a late vote never changes a decided outcome.
* **Never one's own request.**  The requester can never vote on their own request, whatever
  roles they hold.  User names are compared after trimming and case-folding, so ``Alice`` and
  ``alice`` are the same person here (JupyterHub lower-cases names; being stricter than the
  identity provider can only refuse a vote, never let one through).
* **One vote per reviewer per file.**  A vote is final; there is no changing it.
* **A comment for anything but approve.**  Blank or whitespace-only counts as missing.
* **Overrides.**  Approving a file whose automated verdict is ``fail`` overrides the automated
  checks and needs a written override reason.  Such votes are listed in
  :attr:`ReviewOutcome.overrides`, so the caller flags them in the audit log.  An override
  reason on a vote that overrides nothing is refused, so that the list is exact.
* **Blind until quorum.**  Before the quorum, :func:`visible_votes` shows who has voted on
  which file (and the viewer's own votes in full), never another reviewer's choice, comment or
  override reason.  After the quorum, everything.

How the votes decide (only once the quorum is reached):

* A file is ``approved`` when all its votes approve, ``rejected`` when any vote rejects, and
  ``returned`` otherwise (some vote requests changes, none rejects).
* The request is ``approved`` when every file is approved, ``rejected`` when any file is
  rejected, and ``returned`` otherwise.
* A disagreement where one reviewer approves and another rejects is a rejection.  This is the
  conservative choice on purpose: release is the one step that cannot be undone (a disclosed
  number stays disclosed), while a rejection costs the researcher a new request.  With two
  reviewers, release therefore needs both to agree (the two-person rule); a single objection is
  enough to stop it, and the reviewers' comments, visible after the quorum, say why.

The state names (``approved``, ``rejected``, ``returned``) are those of the request lifecycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tre.errors import TreError

__all__ = [
    "AlreadyVoted",
    "CommentRequired",
    "OverrideReasonRequired",
    "OwnRequest",
    "ReviewClosed",
    "ReviewOutcome",
    "UnknownFile",
    "Vote",
    "VoteChoice",
    "VoteError",
    "check_vote",
    "needs_override",
    "same_user",
    "tally",
    "user_can_vote",
    "visible_votes",
]

# Automated verdicts of a file (statbarn's ``Verdict`` values; plain strings keep this pure).
_VERDICTS = frozenset({"pass", "escalate", "fail"})

APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"


class VoteChoice(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


@dataclass(frozen=True)
class Vote:
    """One reviewer's vote on one file of a request.  ``choice`` may be given as its string."""

    reviewer: str
    file_id: str
    choice: VoteChoice
    comment: str | None
    override_reason: str | None

    def __post_init__(self) -> None:
        # Rows from the database carry the choice as a string; make it the enum (or fail loud).
        object.__setattr__(self, "choice", VoteChoice(self.choice))


class VoteError(TreError, ValueError):
    """A vote that cannot be accepted.  The message is written for the user who cast it."""

    code = "bad_vote"
    status = 422


class OwnRequest(VoteError):
    """The reviewer is the requester."""

    code = "own_request"
    status = 403


class CommentRequired(VoteError):
    """A reject or request-changes vote without a comment."""


class OverrideReasonRequired(VoteError):
    """Approving a file that failed the automated checks, without a written reason."""


class AlreadyVoted(VoteError):
    """The reviewer has already voted on this file."""

    code = "vote_closed"
    status = 409


class UnknownFile(VoteError):
    """The file is not part of this request."""


class ReviewClosed(VoteError):
    """The request is decided, or this file already has all the reviews it needs."""

    code = "vote_closed"
    status = 409


@dataclass(frozen=True)
class ReviewOutcome:
    """What the votes so far decide.

    ``decided`` and ``quorum_reached`` are true together: the votes decide nothing before the
    quorum.  Until then ``state`` is None and every ``per_file`` value is None, so the outcome
    itself never unblinds a review.  ``voters`` (sorted) is everyone who has voted on any file.
    ``overrides`` (sorted by file, then reviewer) are the votes that approve a file the
    automated checks failed; they are listed from the first such vote, for the audit log, and
    are not for display to other reviewers before the quorum (use :func:`visible_votes`).
    """

    decided: bool
    state: str | None
    quorum_reached: bool
    voters: list[str]
    per_file: dict[str, str | None]
    overrides: list[Vote]


def same_user(a: str, b: str) -> bool:
    """Whether two user names are the same person (trimmed, case-folded)."""
    return _norm(a) == _norm(b)


def needs_override(choice: VoteChoice, automated_verdict: str) -> bool:
    """Whether this vote overrides the automated checks: approving a file that failed them.

    ``automated_verdict`` is the file's verdict, ``pass``, ``escalate`` or ``fail``; anything
    else is a programming error (ValueError, not :class:`VoteError`).
    """
    verdict = str(automated_verdict).strip().lower()
    if verdict not in _VERDICTS:
        raise ValueError(
            f"unknown automated verdict {automated_verdict!r}; expected one of {sorted(_VERDICTS)}"
        )
    return VoteChoice(choice) is VoteChoice.APPROVE and verdict == "fail"


def check_vote(
    *,
    reviewer: str,
    requester: str,
    file_id: str,
    choice: VoteChoice,
    comment: str | None,
    override_reason: str | None,
    automated_verdict: str,
    existing: Sequence[Vote],
    file_ids: Sequence[str] = (),
    reviewers_required: int = 1,
) -> None:
    """Raise a :class:`VoteError` when this vote may not be cast; return None when it may.

    ``existing`` is every vote already cast on the request (all files).  ``file_ids`` is every
    file of the request: pass it, so that a vote on a file not in the request
    (:class:`UnknownFile`) and a vote after the request is decided (:class:`ReviewClosed`) are
    refused.  Without it, only the file's own votes are consulted: a file that already has
    ``reviewers_required`` votes is closed either way.  Check and store under the same
    transaction (and a unique key on reviewer and file), so concurrent votes cannot both pass.
    """
    _check_required(reviewers_required)
    try:
        choice = VoteChoice(choice)
    except ValueError:
        allowed = ", ".join(c.value for c in VoteChoice)
        raise VoteError(f"{choice!r} is not a vote; choose one of: {allowed}.") from None
    if not _given(reviewer):
        raise VoteError("A vote needs a reviewer.")
    if same_user(reviewer, requester):
        raise OwnRequest("You cannot review your own request; another output checker must.")
    if file_ids:
        if file_id not in file_ids:
            raise UnknownFile(f"File {file_id!r} is not part of this request.")
        if tally(existing, file_ids, reviewers_required).decided:
            raise ReviewClosed("This request has already been decided; no more votes are taken.")
    on_file = [v for v in existing if v.file_id == file_id]
    if any(same_user(v.reviewer, reviewer) for v in on_file):
        raise AlreadyVoted(f"You have already voted on file {file_id!r}; a vote is final.")
    if len({_norm(v.reviewer) for v in on_file}) >= reviewers_required:
        noun = "review" if reviewers_required == 1 else "reviews"
        raise ReviewClosed(
            f"File {file_id!r} already has the {reviewers_required} {noun} it needs."
        )
    if choice is not VoteChoice.APPROVE and not _given(comment):
        what = "Rejecting" if choice is VoteChoice.REJECT else "Requesting changes"
        raise CommentRequired(f"{what} needs a comment that tells the researcher why.")
    if needs_override(choice, automated_verdict):
        if not _given(override_reason):
            raise OverrideReasonRequired(
                f"File {file_id!r} failed the automated disclosure checks; approving it "
                "overrides them and needs a written override reason."
            )
    elif _given(override_reason):
        raise VoteError(
            "An override reason is only for approving a file that failed the automated "
            "checks; remove it, or put your remarks in the comment."
        )


def user_can_vote(
    *,
    reviewer: str,
    requester: str,
    file_id: str,
    choice: VoteChoice,
    comment: str | None,
    override_reason: str | None,
    automated_verdict: str,
    existing: Sequence[Vote],
    file_ids: Sequence[str] = (),
    reviewers_required: int = 1,
) -> bool:
    """:func:`check_vote` as a bool, for templates that show or hide the vote form."""
    try:
        check_vote(
            reviewer=reviewer,
            requester=requester,
            file_id=file_id,
            choice=choice,
            comment=comment,
            override_reason=override_reason,
            automated_verdict=automated_verdict,
            existing=existing,
            file_ids=file_ids,
            reviewers_required=reviewers_required,
        )
    except VoteError:
        return False
    return True


def tally(votes: Sequence[Vote], file_ids: Sequence[str], reviewers_required: int) -> ReviewOutcome:
    """What ``votes`` decide for a request with ``file_ids`` (see the module docstring).

    The result depends only on the set of votes, never their order.  Raises ValueError for
    data that :func:`check_vote` would never have let in (a vote on a file not in
    ``file_ids``, two votes by one reviewer on one file) and for a request without files.
    """
    _check_required(reviewers_required)
    files = list(dict.fromkeys(file_ids))
    if not files:
        raise ValueError("a review needs at least one file")
    by_file: dict[str, list[Vote]] = {f: [] for f in files}
    seen: set[tuple[str, str]] = set()
    for vote in votes:
        if vote.file_id not in by_file:
            raise ValueError(f"vote on {vote.file_id!r}, which is not a file of this request")
        key = (_norm(vote.reviewer), vote.file_id)
        if key in seen:
            raise ValueError(f"{vote.reviewer!r} voted twice on file {vote.file_id!r}")
        seen.add(key)
        by_file[vote.file_id].append(vote)

    quorum = all(len(on_file) >= reviewers_required for on_file in by_file.values())
    per_file: dict[str, str | None] = {
        f: (_file_decision(on_file) if quorum else None) for f, on_file in by_file.items()
    }
    state: str | None = None
    if quorum:
        decisions = set(per_file.values())
        if REJECTED in decisions:
            state = REJECTED
        elif decisions == {APPROVED}:
            state = APPROVED
        else:
            state = RETURNED
    return ReviewOutcome(
        decided=quorum,
        state=state,
        quorum_reached=quorum,
        voters=sorted({v.reviewer for v in votes}),
        per_file=per_file,
        overrides=sorted(
            (v for v in votes if _given(v.override_reason)),
            key=lambda v: (v.file_id, _norm(v.reviewer)),
        ),
    )


def visible_votes(
    votes: Sequence[Vote], viewer: str, quorum_reached: bool
) -> list[dict[str, object]]:
    """The votes as ``viewer`` may see them, one dict per vote, in the order given.

    Every dict has the keys ``reviewer``, ``file_id``, ``own`` (the viewer's vote),
    ``blind`` (its content is hidden), ``choice`` (the string value), ``comment`` and
    ``override_reason``.  Before the quorum, the content of every vote but the viewer's own
    is None and ``blind`` is true: a reviewer sees that others have voted, never how.
    """
    shown: list[dict[str, object]] = []
    for vote in votes:
        own = same_user(vote.reviewer, viewer)
        visible = quorum_reached or own
        shown.append(
            {
                "reviewer": vote.reviewer,
                "file_id": vote.file_id,
                "own": own,
                "blind": not visible,
                "choice": vote.choice.value if visible else None,
                "comment": vote.comment if visible else None,
                "override_reason": vote.override_reason if visible else None,
            }
        )
    return shown


def _file_decision(on_file: Sequence[Vote]) -> str:
    choices = {v.choice for v in on_file}
    if VoteChoice.REJECT in choices:
        return REJECTED
    if VoteChoice.REQUEST_CHANGES in choices:
        return RETURNED
    return APPROVED


def _check_required(reviewers_required: int) -> None:
    if isinstance(reviewers_required, bool) or reviewers_required < 1:
        raise ValueError(f"reviewers_required must be at least 1, not {reviewers_required!r}")


def _given(text: str | None) -> bool:
    return text is not None and text.strip() != ""


def _norm(user: str) -> str:
    return user.strip().casefold()
