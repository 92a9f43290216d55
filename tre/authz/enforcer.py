"""The decision engine: Casbin with an injected clock, invariants first, the rule named.

Two Casbin details shape this module:

* **Time-bounded memberships.**  ``model.conf`` declares ``g = _, _, _, (_, _)``:
  each assignment carries FROM and UNTIL as link-condition parameters.  Casbin's
  own temporal helper (``timeMatch``) reads the naive local ``datetime.now()``,
  so every link gets a condition of ours instead, comparing the assignment's
  window with the time of the decision (the injected clock, or ``at=``).
* **Naming the allow rule.**  With the effect ``some(allow) && !some(deny)``
  Casbin's ``enforce_ex`` must look at every rule, so it reports no rule for an
  allow.  A second enforcer over the same model and rules, with the effect
  ``some(allow)``, stops at the first matching allow rule and names it; it runs
  only when the first said "allow".  A deny rule is named by the first.

Casbin re-parses its matcher on every call, so answers are remembered: Casbin's
answer depends only on the request, the policy and which memberships are in force,
and the memberships in force cannot change between two consecutive FROM/UNTIL
times of the policy.  An answer is remembered for the policy it came from and
the interval between those times that holds the time of the decision; the
separation-of-duty invariants still run on every call.
"""

from __future__ import annotations

import copy
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import casbin
from casbin.constant.constants import ALLOW_AND_DENY_EFFECT, ALLOW_OVERRIDE_EFFECT
from casbin.model import Model
from casbin.persist import Adapter

from tre.authz.invariants import general_context, violated
from tre.authz.policyfile import Assignment, Policy
from tre.authz.settings import POLICIES
from tre.authz.vocabulary import GLOBAL
from tre.clock import Clock, SystemClock, utc
from tre.errors import BadInput, TreError

# Effects as Casbin stores them once loaded ("p.eft" becomes "p_eft"): the model's own,
# allow-and-deny (some allow, no deny), and the explainer's, allow-override (some allow).
DENY_WINS = ALLOW_AND_DENY_EFFECT
FIRST_ALLOW = ALLOW_OVERRIDE_EFFECT
# Casbin answers remembered per policy (forgotten all at once beyond this many).
MAX_REMEMBERED = 4096
_Answer = tuple[bool, tuple[str, ...] | None]  # allowed, and the rule that decided


class Forbidden(TreError):
    """The subject may not do this; ``str(exc)`` is safe to show to the user."""

    code = "forbidden"
    status = 403

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
    # The policy line that decided, as its fields (role, project, object, action, effect);
    # ("invariant", NAME) when a separation-of-duty invariant refused; None when nothing
    # matched (denied by default).
    rule: tuple[str, ...] | None
    policy_version: int | None = None
    context: tuple[tuple[str, str], ...] = ()

    def audit_details(self) -> dict[str, object]:
        """What an audit event records about this decision (``policy diff`` replays it)."""
        details: dict[str, object] = {
            "allowed": self.allowed,
            "rule": list(self.rule) if self.rule else None,
            "subject": self.subject,
            "domain": self.domain,
            "object": self.obj,
            "action": self.action,
            "policy_version": self.policy_version,
        }
        if self.context:
            details["context"] = dict(self.context)
        return details


class _Rules(Adapter):  # type: ignore[misc]
    """Hands a parsed policy to Casbin (Casbin's adapters read files or own sessions)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def load_policy(self, model: Any) -> None:
        for rule in self.policy.rules:
            model.add_policy("p", "p", list(rule.fields()))
        for a in self.policy.assignments:
            model.add_policy("g", "g", [a.user, a.role, a.domain, a.start.isoformat(),
                                        a.until.isoformat()])


def load_model(path: str | Path) -> Model:
    model = Model()
    model.load_model(str(path))
    effect = model["e"]["e"].value
    if effect != DENY_WINS:
        shown = DENY_WINS.replace("p_eft", "p.eft")
        raise BadInput(f"{path}: [policy_effect] must be e = {shown}: tre relies on it")
    return model


class Authz:
    """One policy, ready to answer; thread-safe.  :meth:`replace` swaps the policy."""

    def __init__(
        self,
        policy: Policy,
        clock: Clock | None = None,
        *,
        model: str | Path | None = None,
        version: int | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._model_path = Path(model or POLICIES / "model.conf")
        self._model = load_model(self._model_path)
        self._lock = threading.RLock()
        self._now: datetime = self.clock.now()
        self.replace(policy, version)

    # ---- the policy ---------------------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        model: str | Path | None = None,
        policy: str | Path | None = None,
        clock: Clock | None = None,
    ) -> Authz:
        """The policy file (default policies/policy.csv), validated: PolicyError if it is bad."""
        from tre.authz.lint import read_policy_file  # lint builds on this module

        return cls(read_policy_file(Path(policy or POLICIES / "policy.csv")), clock, model=model)

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def version(self) -> int | None:
        return self._version

    def replace(self, policy: Policy, version: int | None = None) -> None:
        """Use ``policy`` from now on (built aside, then swapped: no decision sees half)."""
        main = self._enforcer(policy, DENY_WINS)
        explainer = self._enforcer(policy, FIRST_ALLOW)
        # Every time at which a membership starts or ends: between two of them, the same
        # memberships are in force, so Casbin gives the same answer to the same question.
        changes = sorted({t for a in policy.assignments for t in (a.start, a.until)})
        with self._lock:
            self._policy, self._version, self._roles = policy, version, policy.roles()
            self._main, self._explainer = main, explainer
            self._changes = changes
            self._answers: dict[tuple[int, str, str, str, str], _Answer] = {}

    def refresh(self) -> bool:
        """Look for a newer policy now; True if it changed.  Files never change by themselves."""
        return False

    def close(self) -> None:
        """Stop following changes (a no-op here)."""

    def _enforcer(self, policy: Policy, effect: str) -> casbin.Enforcer:
        model = copy.deepcopy(self._model)
        model["e"]["e"].value = effect
        enforcer = casbin.Enforcer(model, _Rules(policy))
        for a in policy.assignments:
            enforcer.add_named_domain_link_condition_func(
                "g", a.user, a.role, a.domain, self._window(a)
            )
        return enforcer

    def _window(self, a: Assignment) -> Callable[..., bool]:
        # Reads the time of the decision in progress (set under the lock by _decide).
        return lambda *_params: a.start <= self._now < a.until

    # ---- decisions ----------------------------------------------------------------------------
    def enforce(
        self,
        subject: str,
        domain: str,
        obj: str,
        action: str,
        context: Mapping[str, str] | None = None,
        *,
        at: datetime | None = None,
    ) -> Decision:
        """May ``subject`` do ``action`` to ``obj`` in project ``domain`` (``*``: globally)?

        ``context`` names the people involved (``requester``, ``editor``) for the
        separation-of-duty invariants; ``at`` asks about another time than now.
        """
        ctx = tuple(sorted((str(k), str(v)) for k, v in (context or {}).items()))
        with self._lock:
            version, roles = self._version, self._roles
            broken = violated(subject, obj, action, context, roles)
            if broken is not None:
                return Decision(subject, domain, obj, action, False, ("invariant", broken),
                                version, ctx)
            now = utc(at) if at is not None else self.clock.now()
            key = (bisect_right(self._changes, now), subject, domain, obj, action)
            answer = self._answers.get(key)
            if answer is None:
                self._now = now
                allowed, rule = self._main.enforce_ex(subject, domain, obj, action)
                if allowed:
                    _, rule = self._explainer.enforce_ex(subject, domain, obj, action)
                answer = (bool(allowed), tuple(rule) if rule else None)
                if len(self._answers) >= MAX_REMEMBERED:
                    self._answers.clear()
                self._answers[key] = answer
        return Decision(subject, domain, obj, action, answer[0], answer[1], version, ctx)

    def user_can(
        self, subject: str, domain: str, obj: str, action: str,
        context: Mapping[str, str] | None = None,
    ) -> bool:
        return self.enforce(subject, domain, obj, action, context).allowed

    def check(
        self, subject: str, domain: str, obj: str, action: str,
        context: Mapping[str, str] | None = None,
    ) -> Decision:
        """The decision if allowed; raises :class:`Forbidden` otherwise."""
        decision = self.enforce(subject, domain, obj, action, context)
        if not decision.allowed:
            raise Forbidden(decision)
        return decision

    def in_general(self, subject: str, domain: str, obj: str, action: str) -> bool:
        """Whether the subject may do this in the typical case (their own request for
        own-only actions, somebody else's for reviews and approvals): to show a page or a
        button, never to let the action itself through (that asks with the real context)."""
        return self.enforce(subject, domain, obj, action,
                            general_context(subject, obj, action)).allowed

    def allowed_quick(self, subject: str, domain: str, obj: str, action: str,
                      at: datetime) -> bool:
        """Allow or deny in the typical case without naming the rule (for evaluating whole
        policies)."""
        with self._lock:
            if violated(subject, obj, action, general_context(subject, obj, action),
                        self._roles):
                return False
            self._now = at
            return bool(self._main.enforce(subject, domain, obj, action))

    # ---- memberships ----------------------------------------------------------------------------
    def memberships(self, subject: str | None = None, at: datetime | None = None
                    ) -> list[Assignment]:
        """Assignments in force at ``at`` (default now), optionally of one subject."""
        when = utc(at) if at is not None else self.clock.now()
        return [a for a in self.policy.assignments
                if a.in_force(when) and (subject is None or a.user == subject)]

    def roles_in(self, subject: str, domain: str) -> list[str]:
        """Roles the subject holds now in the project, counting global (``*``) ones."""
        return sorted({a.role for a in self.memberships(subject) if a.domain in (domain, GLOBAL)})

    def domains_of(self, subject: str, role: str | None = None) -> list[str]:
        """Projects in which the subject holds a role now (``*`` = every project)."""
        return sorted({a.domain for a in self.memberships(subject)
                       if role is None or a.role == role})
