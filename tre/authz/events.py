"""One shape for every audited authorisation decision, and the names of audited actions.

Every audit event that records a decision of :mod:`tre.authz` carries it the same
way: ``details["authz"]`` is a list of :meth:`Decision.audit_details` dicts, the
decisions the action needed, in the order they were asked (one for most actions;
a submission asks ``request create`` and ``request submit``).  ``tre policy diff``
replays exactly these (tre.authz.diff), so a decision written any other way would
be silently left out of the replay; :func:`decisions_in` reads events written
before this shape too.

:class:`AuditAction` names every action tre writes to the audit log (as
OpenSAFELY's ``AuditEventType``): a typo is an ``AttributeError``, not a new,
unreported kind of event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from tre.authz.enforcer import Decision

AUTHZ = "authz"  # the key of the decisions in an event's details
DECISION_KEYS = ("allowed", "domain", "object", "action")


class AuditAction(StrEnum):
    # governance
    POLICY_SEED = "policy.seed"
    POLICY_PROPOSE = "policy.propose"
    POLICY_APPLY = "policy.apply"
    PROFILE_PROPOSE = "profile.propose"
    PROFILE_APPLY = "profile.apply"
    MEMBERSHIP_GRANT = "membership.grant"
    MEMBERSHIP_REVOKE = "membership.revoke"
    # the catalog and workspaces
    PROJECT_CREATE = "project.create"
    DATASET_REGISTER = "dataset.register"
    DATASET_GRANT = "dataset.grant"
    DATASET_REVOKE = "dataset.revoke"
    WORKSPACE_SPAWN = "workspace.spawn"
    WORKSPACE_REFUSED = "workspace.spawn.refused"
    WORKSPACE_STOP = "workspace.stop"
    # the airlock
    REQUEST_CREATE = "airlock.request.create"
    REQUEST_TRANSITION = "airlock.request.transition"
    REQUEST_REVISE = "airlock.request.revise"  # a returned request revised into a new one
    VOTE_CAST = "airlock.vote.cast"  # sealed: a commitment, whatever the choice
    VOTE_REVEAL = "airlock.vote.reveal"  # opened at the quorum
    VOTE_OVERRIDE = "airlock.vote.override"  # opened at the quorum, an override
    MESSAGE_POST = "airlock.message.post"  # a request's conversation or a checkers' note
    FILE_VIEW = "airlock.file.view"
    RELEASE_DOWNLOAD = "airlock.release.download"
    INTEGRITY_REFUSED = "airlock.integrity.refused"
    LOGIN_REFUSED = "airlock.login.refused"  # a browser login of a suspended user
    # every refusal of the authorisation point, wherever it was asked (tre.authz.refusals)
    ACCESS_DENIED = "airlock.access.denied"  # the name the airlock first wrote; kept


def decision_details(decisions: Decision | Iterable[Decision]) -> dict[str, Any]:
    """``{"authz": [...]}``: the decisions in the one shape, to merge into details."""
    items = [decisions] if isinstance(decisions, Decision) else list(decisions)
    return {AUTHZ: [d.audit_details() for d in items]}


def _is_decision(value: object) -> bool:
    return isinstance(value, Mapping) and all(k in value for k in DECISION_KEYS)


def decisions_in(details: object) -> list[Mapping[str, Any]]:
    """The decisions an event's details record: ``authz`` (a list, or one dict), else the
    older places (``decision``, or the decision's keys at the top level)."""
    if not isinstance(details, Mapping):
        return []
    found = details.get(AUTHZ)
    if isinstance(found, Mapping):
        found = [found]
    if isinstance(found, list):
        return [d for d in found if _is_decision(d)]
    legacy = details.get("decision", details)
    return [legacy] if _is_decision(legacy) else []
