"""The one authorisation point: every route, page and command asks here.

``Authz.enforce(subject, domain, obj, action)`` answers with a :class:`Decision`
that names the policy rule that matched (Casbin ``enforce_ex``), so the audit
event of a decision can say *why*.  ``check`` raises :class:`Forbidden`;
``user_can`` returns a bool (the OpenSAFELY pairing).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import casbin

from tre.clock import Clock, SystemClock

POLICIES = Path(__file__).resolve().parents[2] / "policies"


class Forbidden(Exception):
    """The subject may not do this; ``str(exc)`` is safe to show to the user."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"{decision.subject} may not {decision.action} {decision.obj} in {decision.domain}"
        )


@dataclass(frozen=True)
class Decision:
    subject: str
    domain: str
    obj: str
    action: str
    allowed: bool
    rule: tuple[str, ...] | None

    def audit_details(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "rule": list(self.rule) if self.rule else None,
            "domain": self.domain,
            "object": self.obj,
            "action": self.action,
        }


class Authz:
    """A Casbin enforcer behind a lock (Casbin enforcers are not thread-safe to reload)."""

    def __init__(self, enforcer: casbin.Enforcer, clock: Clock | None = None) -> None:
        self._enforcer = enforcer
        self._lock = threading.RLock()
        self.clock = clock or SystemClock()

    @classmethod
    def from_files(
        cls,
        model: str | Path | None = None,
        policy: str | Path | None = None,
        clock: Clock | None = None,
    ) -> Authz:
        enforcer = casbin.Enforcer(
            str(model or POLICIES / "model.conf"), str(policy or POLICIES / "policy.csv")
        )
        return cls(enforcer, clock)

    def enforce(self, subject: str, domain: str, obj: str, action: str) -> Decision:
        with self._lock:
            allowed, rule = self._enforcer.enforce_ex(subject, domain, obj, action)
        return Decision(subject, domain, obj, action, bool(allowed), tuple(rule) if rule else None)

    def user_can(self, subject: str, domain: str, obj: str, action: str) -> bool:
        return self.enforce(subject, domain, obj, action).allowed

    def check(self, subject: str, domain: str, obj: str, action: str) -> Decision:
        decision = self.enforce(subject, domain, obj, action)
        if not decision.allowed:
            raise Forbidden(decision)
        return decision

    def roles_in(self, subject: str, domain: str) -> list[str]:
        with self._lock:
            roles = set(self._enforcer.get_roles_for_user_in_domain(subject, domain))
            roles |= set(self._enforcer.get_roles_for_user_in_domain(subject, "*"))
        return sorted(roles)

    def domains_of(self, subject: str, role: str | None = None) -> list[str]:
        """Projects in which the subject holds a role (``*`` = every project)."""
        with self._lock:
            rules = self._enforcer.get_grouping_policy()
        return sorted({r[2] for r in rules if r[0] == subject and (role is None or r[1] == role)})


def load_authz(session_factory: object | None = None, clock: Clock | None = None) -> Authz:
    """The process's authorisation point.  For now the policy files; the governance
    issue makes this read the policy stored in the database and follow its changes."""
    return Authz.from_files(clock=clock)
