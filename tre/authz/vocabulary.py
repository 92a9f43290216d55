"""The words of the policy: which objects tre asks about, and what can be done to them.

Every caller of :mod:`tre.authz` asks ``(subject, domain, object, action)`` with an
object and an action from this table, so that a governance team reading
``policy.csv`` can know what each line grants.  ``tre policy lint`` warns about a
rule naming an object or action that is not here, because tre never asks for it:
such a rule can never match.  policies/README.md lists the same table in prose.
"""

from __future__ import annotations

GLOBAL = "*"  # the domain meaning "every project" (and the domain of global actions)

ROLES: tuple[str, ...] = (
    "researcher",
    "output_checker",
    "data_custodian",
    "governance",
    "operator",
    "suspended",
)

ACTIONS: dict[str, dict[str, str]] = {
    # Stopping somebody else's workspace is the hub's own right (JupyterHub's admin and
    # the idle culler), not a question tre is asked: so it is no word of the policy.
    "workspace": {
        "spawn": "start a workspace in the project",
    },
    "dataset": {
        "read": "see the project's datasets inside its workspaces",
        "register": "add a dataset to the catalog",
        "grant": "grant a dataset to a project",
        "revoke": "withdraw a dataset from a project",
    },
    "request": {
        "create": "start an export request (own)",
        "submit": "submit an export request for checking (own)",
        "withdraw": "withdraw an export request (own)",
        "read": "see an export request and its files",
        "review": "vote on an export request (never one's own)",
        "override": "approve a file that failed the automated checks (never one's own)",
    },
    "release": {"download": "download a released bundle (own)"},
    "queue": {"read": "see the queue of requests waiting for review"},
    "project": {
        "read": "see a project's details and members",
        "create": "create a project",
    },
    "membership": {
        "read": "see who holds which role where, and until when",
        "grant": "give somebody a role in a project",
        "revoke": "take a role away",
    },
    "policy": {
        "read": "see the policy and its history",
        "edit": "propose or apply a policy change",
        "approve": "approve somebody else's policy change (second approval)",
    },
    "profile": {
        "read": "see disclosure profiles and their history",
        "edit": "propose or apply a disclosure profile change",
        "approve": "approve somebody else's profile change (second approval)",
    },
    "audit": {
        "read": "read the audit log",
        "verify": "verify the audit log's hash chain",
        "export": "export the audit log",
    },
}

# Actions only ever allowed on the subject's own request or release, when the caller
# says whose it is (context ``requester=...``): see tre.authz.invariants.
OWN_ONLY: frozenset[tuple[str, str]] = frozenset(
    {("request", "submit"), ("request", "withdraw"), ("release", "download")}
)
# Judging a request: never the requester's own.
REVIEW_ACTIONS: frozenset[tuple[str, str]] = frozenset(
    {("request", "review"), ("request", "override")}
)
# Second approvals of governance edits: never the editor's own.
APPROVE_ACTIONS: frozenset[tuple[str, str]] = frozenset(
    {("policy", "approve"), ("profile", "approve")}
)


def all_actions() -> list[tuple[str, str]]:
    """Every (object, action) pair tre asks about, in a stable order."""
    return [(obj, act) for obj, acts in ACTIONS.items() for act in acts]


def is_known(obj: str, act: str) -> bool:
    """Whether a policy rule's object/action can match something tre asks (wildcards can)."""
    objects = list(ACTIONS) if obj == "*" else [o for o in ACTIONS if _key_match(o, obj)]
    return any(act == "*" or act in ACTIONS[o] for o in objects)


def _key_match(value: str, pattern: str) -> bool:
    # Casbin's keyMatch: a trailing "*" matches any suffix.
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern
