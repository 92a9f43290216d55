"""Project memberships: a role in a project until a date.

Memberships are not catalog rows: they live in the policy (``g`` lines, stored as
policy versions by :mod:`tre.authz.memberships`), so the one authorisation point
decides with them and they end by themselves at their ``until``.  What the catalog
adds is that the project must exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from tre.catalog.service import get_project
from tre.clock import Clock

if TYPE_CHECKING:
    from tre.authz.apply import Outcome
    from tre.authz.policyfile import Assignment


def add_member(factory: sessionmaker[Session], *, project: str, user: str, role: str,
               until: datetime, actor: str, reason: str, clock: Clock) -> Outcome:
    """Give ``user`` ``role`` in ``project`` from now until ``until`` (replacing any
    earlier dates of the same membership); needs ``membership grant`` there."""
    from tre.authz.memberships import grant_membership

    with factory() as session:
        get_project(session, project)
    return grant_membership(factory, user=user, role=role, project=project, until=until,
                            actor=actor, reason=reason, clock=clock)


def remove_member(factory: sessionmaker[Session], *, project: str, user: str, role: str,
                  actor: str, reason: str, clock: Clock) -> Outcome:
    """End ``user``'s ``role`` in ``project`` now; needs ``membership revoke`` there."""
    from tre.authz.memberships import revoke_membership

    with factory() as session:
        get_project(session, project)
    return revoke_membership(factory, user=user, role=role, project=project, actor=actor,
                             reason=reason, clock=clock)


def members(policy_assignments: tuple[Assignment, ...], project: str,
            at: datetime) -> list[Assignment]:
    """Memberships in ``project`` in force at ``at`` (global ones not included)."""
    return sorted((a for a in policy_assignments if a.domain == project and a.in_force(at)),
                  key=lambda a: (a.user, a.role))
