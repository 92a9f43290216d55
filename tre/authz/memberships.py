"""Memberships: give somebody a role in a project until a date, or take it away.

A membership is a ``g`` line of the policy, so a change is a new policy version
made by :func:`tre.authz.apply.apply_policy`: validated, run through the truth
tables, diffed, stored and audited in one transaction, seen by every process
within the poll interval.  What differs from a policy edit: the actor needs
``membership grant`` (or ``revoke``) in the project, not ``policy edit``, and the
audit event is ``membership.grant`` / ``membership.revoke`` on the project.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from tre.authz.apply import GovernanceError, Outcome, Requirement, apply_policy
from tre.authz.events import AuditAction
from tre.authz.policyfile import Assignment, Policy, show_time
from tre.authz.settings import PolicySettings, policy_settings
from tre.authz.store import ensure_seeded, load_version
from tre.clock import Clock


def _current(factory: sessionmaker[Session], settings: PolicySettings, clock: Clock) -> Policy:
    version = ensure_seeded(factory, settings, clock)
    with factory() as session:
        return load_version(session, version)


def _without(policy: Policy, key: tuple[str, str, str]) -> list[str]:
    """The policy's lines, less those of the membership ``key`` (user, role, project)."""
    drop = {a.line for a in policy.assignments if a.key() == key}
    lines = (policy.text or policy.to_csv()).splitlines()
    return [line for number, line in enumerate(lines, start=1) if number not in drop]


def grant_membership(factory: sessionmaker[Session], *, user: str, role: str, project: str,
                     until: datetime, actor: str, reason: str, clock: Clock,
                     start: datetime | None = None, settings: PolicySettings | None = None,
                     via: dict[str, str] | None = None) -> Outcome:
    """``user`` holds ``role`` in ``project`` from ``start`` (default now) until ``until``,
    replacing any earlier dates of the same membership."""
    settings = settings or policy_settings()
    begin = start or clock.now()
    if until <= begin:
        raise GovernanceError(f"until ({show_time(until)}) must be after from "
                              f"({show_time(begin)})")
    policy = _current(factory, settings, clock)
    lines = [*_without(policy, (user, role, project)),
             Assignment(user, role, project, begin, until).csv()]
    return apply_policy(factory, "\n".join(lines) + "\n",
                        f"membership: {user} as {role} in {project}", editor=actor,
                        reason=reason, clock=clock, settings=settings, via=via,
                        permission=Requirement(project, "membership", "grant",
                                              f"grant memberships in {project}"),
                        audit_action=AuditAction.MEMBERSHIP_GRANT, project=project)


def revoke_membership(factory: sessionmaker[Session], *, user: str, role: str, project: str,
                      actor: str, reason: str, clock: Clock,
                      settings: PolicySettings | None = None,
                      via: dict[str, str] | None = None) -> Outcome:
    """Take ``role`` in ``project`` away from ``user`` now (the line leaves the policy;
    earlier versions keep it)."""
    settings = settings or policy_settings()
    policy = _current(factory, settings, clock)
    if not any(a.key() == (user, role, project) for a in policy.assignments):
        raise GovernanceError(f"{user} is not {role} in {project}")
    return apply_policy(factory, "\n".join(_without(policy, (user, role, project))) + "\n",
                        f"membership: {user} as {role} in {project} ended", editor=actor,
                        reason=reason, clock=clock, settings=settings, via=via,
                        permission=Requirement(project, "membership", "revoke",
                                              f"revoke memberships in {project}"),
                        audit_action=AuditAction.MEMBERSHIP_REVOKE, project=project)
