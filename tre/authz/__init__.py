"""The one authorisation point: every route, page and command asks here.

``Authz.enforce(subject, domain, obj, action)`` answers with a :class:`Decision`
that names the policy rule that matched, so the audit event of a decision can say
*why*.  ``check`` raises :class:`Forbidden`; ``user_can`` returns a bool (the
OpenSAFELY pairing).  Separation-of-duty invariants (tre.authz.invariants) run
before the policy, whatever it says.

:func:`load_authz` gives the process's authorisation point: the policy stored in
the database (seeded from policies/policy.csv on first use, followed within
``TRE_POLICY_POLL_SECONDS``), or the policy files when there is no database.

Names are imported on first use (PEP 562), so that ``import tre.cli`` does not
pay for Casbin and the settings machinery on every command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tre.authz.enforcer import Authz, Decision, Forbidden
    from tre.authz.policyfile import Assignment, Policy, PolicyError, Problem, Rule
    from tre.authz.settings import POLICIES, PolicySettings, policy_settings
    from tre.clock import Clock

__all__ = [
    "POLICIES",
    "Assignment",
    "Authz",
    "Decision",
    "Forbidden",
    "Policy",
    "PolicyError",
    "PolicySettings",
    "Problem",
    "Rule",
    "load_authz",
    "policy_settings",
]

_WHERE = {
    "Authz": "enforcer", "Decision": "enforcer", "Forbidden": "enforcer",
    "Assignment": "policyfile", "Policy": "policyfile", "PolicyError": "policyfile",
    "Problem": "policyfile", "Rule": "policyfile",
    "POLICIES": "settings", "PolicySettings": "settings", "policy_settings": "settings",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"tre.authz.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tre.authz' has no attribute {name!r}")


def load_authz(session_factory: object | None = None, clock: Clock | None = None) -> Authz:
    """The process's authorisation point.

    With a session factory (a SQLAlchemy ``sessionmaker``): the policy stored in the
    database, seeded from ``TRE_POLICY_SEED_FILE`` when the database has none, and
    followed by a background poll, so a change applied anywhere is seen here within
    ``TRE_POLICY_POLL_SECONDS``.  Without one: the policy files, read once.
    Call ``close()`` when done (it stops the poll).
    """
    from tre.authz.enforcer import Authz
    from tre.authz.settings import policy_settings

    settings = policy_settings()
    if session_factory is None:
        return Authz.from_files(settings.model_file, settings.seed_file, clock)
    from tre.authz.store import StoredAuthz

    return StoredAuthz.open(session_factory, clock, settings)  # type: ignore[arg-type]
