"""``tre policy diff``: what a proposed policy would change, before it changes anything.

Two views, both computed by asking the real decision engine:

* **effective permissions**: every known user, in every known project (and ``*``),
  for every object and action tre asks about, under the policy in force and under
  the proposal, at one moment (default now); the differences are listed as
  (who, where, what) gained or lost;
* **replay**: the most recent audited decisions (``details["authz"]`` of audit
  events, the one shape every writer uses: tre.authz.events) asked again under the
  proposal, at the time they were made; those that would come out differently.

The textual changes (rules and memberships added, removed or re-dated) are listed
too, so that a change of dates that only matters next year is not invisible.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tre.audit import AuditEvent
from tre.authz.enforcer import Authz
from tre.authz.events import decisions_in
from tre.authz.lint import Known, assignment_label
from tre.authz.policyfile import Policy
from tre.authz.vocabulary import GLOBAL, all_actions
from tre.clock import utc


@dataclass(frozen=True, order=True)
class Permission:
    user: str
    domain: str
    obj: str
    action: str

    def __str__(self) -> str:
        return f"{self.user} may {self.action} {self.obj} in {self.domain}"


@dataclass(frozen=True)
class Replayed:
    seq: int
    at: str
    subject: str
    domain: str
    obj: str
    action: str
    was: bool
    would_be: bool
    rule: list[str] | None

    def __str__(self) -> str:
        verdict = {True: "allowed", False: "denied"}
        rule = f" ({', '.join(self.rule)})" if self.rule else ""
        return (f"event {self.seq} ({self.at}): {self.subject} {self.action} {self.obj} in "
                f"{self.domain}: was {verdict[self.was]}, would be {verdict[self.would_be]}{rule}")


@dataclass
class PolicyDiff:
    at: str
    gained: list[Permission] = field(default_factory=list)
    lost: list[Permission] = field(default_factory=list)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    memberships_added: list[str] = field(default_factory=list)
    memberships_removed: list[str] = field(default_factory=list)
    memberships_redated: list[str] = field(default_factory=list)
    replayed: int = 0
    replay_changes: list[Replayed] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any((self.gained, self.lost, self.rules_added, self.rules_removed,
                        self.memberships_added, self.memberships_removed,
                        self.memberships_redated, self.replay_changes))

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["gained"] = [asdict(p) for p in self.gained]
        data["lost"] = [asdict(p) for p in self.lost]
        return data


def effective(authz: Authz, users: set[str], projects: set[str], at: datetime
              ) -> set[Permission]:
    """Every (user, project, object, action) the policy allows at ``at``."""
    actions = set(all_actions()) | {
        (r.obj, r.action) for r in authz.policy.rules if "*" not in (r.obj + r.action)
    }
    allowed: set[Permission] = set()
    for user in sorted(users):
        held = {a.domain for a in authz.memberships(user, at)}
        # Without a global membership a user can only be allowed in the projects of their
        # memberships (the matcher needs g(user, role, project)): ask only there.
        domains = projects | {GLOBAL} if GLOBAL in held else held
        for domain in sorted(domains):
            for obj, act in sorted(actions):
                if authz.allowed_quick(user, domain, obj, act, at):
                    allowed.add(Permission(user, domain, obj, act))
    return allowed


def _text_changes(before: Policy, after: Policy, diff: PolicyDiff) -> None:
    old_rules = {r.fields(): r for r in before.rules}
    new_rules = {r.fields(): r for r in after.rules}
    diff.rules_added = [new_rules[k].csv() for k in new_rules if k not in old_rules]
    diff.rules_removed = [old_rules[k].csv() for k in old_rules if k not in new_rules]
    old = {a.key(): a for a in before.assignments}
    new = {a.key(): a for a in after.assignments}
    diff.memberships_added = [assignment_label(new[k]) for k in new if k not in old]
    diff.memberships_removed = [assignment_label(old[k]) for k in old if k not in new]
    diff.memberships_redated = [
        f"{assignment_label(old[k])} -> {assignment_label(new[k])}"
        for k in new
        if k in old and (old[k].start, old[k].until) != (new[k].start, new[k].until)
    ]


def diff_policies(before: Authz, after: Authz, at: datetime, known: Known | None = None
                  ) -> PolicyDiff:
    """Permissions gained and lost from ``before`` to ``after``, and the textual changes."""
    at = utc(at)
    users = before.policy.users() | after.policy.users() | set(known.users if known else ())
    projects = (before.policy.projects() | after.policy.projects()
                | set(known.projects if known else ()))
    old = effective(before, users, projects, at)
    new = effective(after, users, projects, at)
    diff = PolicyDiff(at=at.isoformat(), gained=sorted(new - old), lost=sorted(old - new))
    _text_changes(before.policy, after.policy, diff)
    return diff


def audited_decisions(session: Session, limit: int) -> list[tuple[AuditEvent, dict[str, object]]]:
    """The decisions of the ``limit`` most recent audit events that record any (oldest
    first), read where every writer puts them (``details["authz"]``, tre.authz.events)."""
    if limit <= 0:
        return []
    found: list[tuple[AuditEvent, dict[str, object]]] = []
    query = (select(AuditEvent).where(AuditEvent.details.like('%"allowed"%'))
             .order_by(AuditEvent.seq.desc()))
    events = 0
    # Read in pages: an event that mentions "allowed" without recording a decision is
    # skipped and does not count towards the limit.
    for event in session.scalars(query.execution_options(yield_per=500)):
        decisions = decisions_in(json.loads(event.details))
        if not decisions:
            continue
        found += [(event, dict(d)) for d in reversed(decisions)]
        events += 1
        if events >= limit:
            break
    return found[::-1]


def replay(decisions: list[tuple[AuditEvent, dict[str, object]]], proposed: Authz,
           diff: PolicyDiff) -> None:
    """Ask audited decisions again under ``proposed``; record those that change."""
    for event, d in decisions:
        subject = str(d.get("subject") or event.actor)
        context = d.get("context") if isinstance(d.get("context"), dict) else None
        at = datetime.fromisoformat(event.at)
        now = proposed.enforce(subject, str(d["domain"]), str(d["object"]), str(d["action"]),
                               context, at=at)  # type: ignore[arg-type]
        diff.replayed += 1
        if now.allowed != bool(d["allowed"]):
            diff.replay_changes.append(Replayed(
                event.seq, event.at, subject, str(d["domain"]), str(d["object"]),
                str(d["action"]), bool(d["allowed"]), now.allowed,
                list(now.rule) if now.rule else None))
