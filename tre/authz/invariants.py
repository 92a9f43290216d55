"""Separation of duties that no policy edit can break.

These run before Casbin and only ever refuse: whatever ``policy.csv`` grants
(even ``p, somebody, *, *, *, allow``), a requester never reviews or overrides
their own request, a governance editor never approves their own edit, and
own-only actions (submit, withdraw, download) are only allowed on one's own
request.  The caller says whose request or edit it is through ``context``:

* ``requester``: the user who created the request (or owns the release);
* ``editor``: the user who proposed the policy or profile change.

They fail closed: asking one of these actions without saying whose request or edit
it is, is refused (``context-required``), so a caller that forgets the context can
never skip the rule.  Questions "in general" (may carol review in this project at
all? should the page show an approve button?) go through :func:`general_context`,
which names the typical case: one's own request for own-only actions, somebody
else's for reviews and approvals.

User names are compared after trimming and case-folding, as the airlock does:
being stricter than the identity provider can only refuse, never let through.
A subject that is empty, ``*`` or the name of a role is refused outright,
because Casbin treats ``g(name, name)`` as true: a user called ``governance``
would otherwise hold the governance role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tre.authz.vocabulary import APPROVE_ACTIONS, GLOBAL, OWN_ONLY, REVIEW_ACTIONS, ROLES

SUBJECT_IS_NOT_A_USER = "subject-is-not-a-user"
REQUESTER_NEVER_REVIEWS = "requester-never-reviews-own-request"
EDITOR_NEVER_APPROVES = "editor-never-approves-own-edit"
OWN_REQUESTS_ONLY = "own-requests-only"
CONTEXT_REQUIRED = "context-required"
# Never a user name (a user name cannot contain a space or "<"): "somebody else".
SOMEBODY_ELSE = "<somebody else>"

INVARIANTS = {
    SUBJECT_IS_NOT_A_USER: "the subject must be a user, not empty, * or a role name",
    REQUESTER_NEVER_REVIEWS: "a requester never reviews or overrides their own request",
    EDITOR_NEVER_APPROVES: "whoever edits policy or a profile never approves their own edit",
    OWN_REQUESTS_ONLY: "submit, withdraw and download only apply to one's own request",
    CONTEXT_REQUIRED: "a review, approval or own-only action must say whose request or "
                      "edit it is",
}


def general_context(subject: str, obj: str, action: str) -> dict[str, str] | None:
    """The context of the typical case of an action, for questions in general."""
    if (obj, action) in OWN_ONLY:
        return {"requester": subject}
    if (obj, action) in REVIEW_ACTIONS:
        return {"requester": SOMEBODY_ELSE}
    if (obj, action) in APPROVE_ACTIONS:
        return {"editor": SOMEBODY_ELSE}
    return None


def same_user(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def violated(
    subject: str,
    obj: str,
    action: str,
    context: Mapping[str, str] | None,
    roles: Iterable[str] = (),
) -> str | None:
    """The name of the invariant this request breaks, or None."""
    role_names = {r.casefold() for r in (*ROLES, *roles)}
    name = subject.strip()
    if not name or name == GLOBAL or name.casefold() in role_names:
        return SUBJECT_IS_NOT_A_USER
    ctx = context or {}
    requester = ctx.get("requester")
    editor = ctx.get("editor")
    pair = (obj, action)
    if pair in APPROVE_ACTIONS:
        if editor is None:
            return CONTEXT_REQUIRED
        return EDITOR_NEVER_APPROVES if same_user(subject, editor) else None
    if pair in REVIEW_ACTIONS or pair in OWN_ONLY:
        if requester is None:
            return CONTEXT_REQUIRED
        if pair in REVIEW_ACTIONS and same_user(subject, requester):
            return REQUESTER_NEVER_REVIEWS
        if pair in OWN_ONLY and not same_user(subject, requester):
            return OWN_REQUESTS_ONLY
    return None
