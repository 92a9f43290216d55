"""``tre policy lint``: what is wrong with a policy file, line by line.

Errors (the file is refused by ``apply`` and by loading): syntax, bad dates, an
assignment of a role no rule defines (usually a typo), a user named like a role,
the same membership twice.  Warnings (the file works, but probably not as meant):
memberships already ended, users or projects nobody has heard of (checked only
when the database is at hand), duplicate rules, and rules that can never match:
an object or action tre never asks about, a role nobody holds (there), or an
allow that a deny of the same role always overrides.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tre.authz.policyfile import (
    Assignment,
    Policy,
    PolicyError,
    Problem,
    Rule,
    parse_policy,
    show_time,
)
from tre.authz.vocabulary import GLOBAL, ROLES, is_known
from tre.clock import SystemClock


@dataclass(frozen=True)
class Known:
    """Users and projects known outside the file (the database), for typo warnings."""

    users: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()


def _warn(policy: Policy, line: int, message: str) -> Problem:
    return Problem(policy.source, line, message, "warning")


def _err(policy: Policy, line: int, message: str) -> Problem:
    return Problem(policy.source, line, message, "error")


def _assignment_problems(policy: Policy, at: datetime, known: Known | None) -> list[Problem]:
    problems: list[Problem] = []
    roles = policy.roles()
    role_names = {r.casefold() for r in roles | set(ROLES)}
    seen: dict[tuple[str, str, str], int] = {}
    for a in policy.assignments:
        if a.role not in roles:
            defined = ", ".join(sorted(roles)) or "none"
            problems.append(_err(policy, a.line,
                                 f"unknown role '{a.role}' (roles the rules define: {defined})"))
        if a.user.casefold() in role_names:
            problems.append(_err(policy, a.line, f"user '{a.user}' has the name of a role; "
                                 "Casbin would take that user to hold the role itself"))
        if a.key() in seen:
            problems.append(_err(policy, a.line, (
                f"{a.user} is already {a.role} in {a.domain} on line {seen[a.key()]}; "
                "one line per membership (change its dates instead)")))
        seen.setdefault(a.key(), a.line)
        if a.until <= at:
            problems.append(_warn(policy, a.line, (
                f"membership of {a.user} as {a.role} in {a.domain} ended at "
                f"{show_time(a.until)}; it grants nothing (remove the line)")))
        if known is not None and a.user not in known.users:
            problems.append(_warn(policy, a.line, f"unknown user '{a.user}' (not in the current "
                                  "policy or the audit log): a typo?"))
    return problems


def _covers(deny: Rule, allow: Rule) -> bool:
    def one(pattern: str, value: str) -> bool:
        return pattern == "*" or pattern == value or (
            pattern.endswith("*") and value.startswith(pattern[:-1]) and not value.endswith("*")
        )

    return deny.role == allow.role and all(
        one(p, v) for p, v in ((deny.domain, allow.domain), (deny.obj, allow.obj),
                               (deny.action, allow.action))
    )


def _rule_problems(policy: Policy, at: datetime, known: Known | None) -> list[Problem]:
    problems: list[Problem] = []
    holders: dict[str, set[str]] = defaultdict(set)  # role -> projects where held now or later
    for a in policy.assignments:
        if a.until > at:
            holders[a.role].add(a.domain)
    seen: dict[tuple[str, ...], int] = {}
    denies = [r for r in policy.rules if r.effect == "deny"]
    for r in policy.rules:
        if r.fields() in seen:
            problems.append(_warn(policy, r.line, f"same rule as line {seen[r.fields()]}"))
            continue
        seen[r.fields()] = r.line
        if not is_known(r.obj, r.action):
            problems.append(_warn(policy, r.line, f"tre never asks for '{r.obj} {r.action}', "
                                  "so this rule never matches (see policies/README.md)"))
        where = holders.get(r.role, set())
        if not where:
            problems.append(_warn(policy, r.line, f"nobody holds role '{r.role}' now or later, "
                                  "so this rule never matches"))
        elif r.domain != GLOBAL and not where & {r.domain, GLOBAL}:
            problems.append(_warn(policy, r.line, f"nobody holds role '{r.role}' in {r.domain} "
                                  "or globally, so this rule never matches"))
        if r.effect == "allow":
            for d in denies:
                if _covers(d, r):
                    problems.append(_warn(policy, r.line, f"never takes effect: line {d.line} "
                                          "denies the same to the same role"))
                    break
        if known is not None and r.domain != GLOBAL and r.domain not in known.projects:
            problems.append(_warn(policy, r.line, f"unknown project '{r.domain}': a typo?"))
    if known is not None:
        for a in policy.assignments:
            if a.domain != GLOBAL and a.domain not in known.projects:
                problems.append(_warn(policy, a.line, f"unknown project '{a.domain}': a typo?"))
    return problems


def lint(policy: Policy, at: datetime, known: Known | None = None) -> list[Problem]:
    """Every semantic problem of a parsed policy, sorted by line."""
    found = _assignment_problems(policy, at, known) + _rule_problems(policy, at, known)
    return sorted(found, key=lambda p: (p.line, p.severity != "error", p.message))


def check_text(
    text: str, source: str, at: datetime | None = None, known: Known | None = None
) -> tuple[Policy, list[Problem]]:
    """Parse and lint: the policy and every problem, errors and warnings."""
    policy, problems = parse_policy(text, source)
    when = at if at is not None else SystemClock().now()
    problems = sorted(problems + lint(policy, when, known), key=lambda p: p.line)
    return policy, problems


def validate(text: str, source: str, at: datetime | None = None) -> Policy:
    """The policy in ``text``, or :class:`PolicyError` naming every error in it."""
    policy, problems = check_text(text, source, at)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PolicyError(errors)
    if not policy.rules:
        raise PolicyError([Problem(source, 0, "the policy has no rules")])
    return policy


def read_policy_file(path: Path, at: datetime | None = None) -> Policy:
    """A policy file, validated.  OSError and UnicodeError pass through to the caller."""
    return validate(path.read_text(encoding="utf-8"), str(path), at)


def assignment_label(a: Assignment) -> str:
    return f"{a.user} as {a.role} in {a.domain} ({show_time(a.start)} to {show_time(a.until)})"
