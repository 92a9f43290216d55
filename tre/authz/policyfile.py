"""Reading ``policy.csv``: rules (``p``) and time-bounded role assignments (``g``).

Line formats (comma-separated, spaces around commas ignored, ``#`` starts a comment)::

    p, ROLE, PROJECT, OBJECT, ACTION, allow|deny
    g, USER, ROLE, PROJECT, FROM, UNTIL

``PROJECT`` is a project name or ``*`` (every project).  ``FROM`` and ``UNTIL`` are
an ISO date (``2027-01-01``, meaning 00:00 UTC that day) or an ISO date-time with
a time zone (``2027-01-01T09:00Z``).  A membership is in force from FROM
(inclusive) until UNTIL (exclusive): it ends by itself, with no edit.  UNTIL is
required on purpose: every membership is re-approved some day.

Parsing never stops at the first problem: every problem is collected with its
file and line, so a governance team fixes a file in one pass.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from tre.authz.vocabulary import GLOBAL
from tre.errors import BadInput, TreError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
OBJECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_./-]*\*?|\*)$")
EFFECTS = ("allow", "deny")


@dataclass(frozen=True)
class Problem:
    """One finding about a policy file; ``str()`` is ``file:line: severity: message``."""

    source: str
    line: int
    message: str
    severity: str = "error"  # "error" refuses the file; "warning" only informs

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.severity}: {self.message}"


class PolicyError(TreError, ValueError):
    """A policy that must not be used; ``problems`` lists every error found."""

    code = "policy"
    status = 422

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem, as ``file:line: message`` (what the commands print)."""
        return [f"{p.source}:{p.line}: {p.message}" if p.line else f"{p.source}: {p.message}"
                for p in self.problems]


@dataclass(frozen=True)
class Rule:
    role: str
    domain: str
    obj: str
    action: str
    effect: str
    line: int = 0

    def fields(self) -> tuple[str, str, str, str, str]:
        return (self.role, self.domain, self.obj, self.action, self.effect)

    def csv(self) -> str:
        return "p, " + ", ".join(self.fields())


@dataclass(frozen=True)
class Assignment:
    user: str
    role: str
    domain: str
    start: datetime
    until: datetime
    line: int = 0

    def in_force(self, at: datetime) -> bool:
        return self.start <= at < self.until

    def key(self) -> tuple[str, str, str]:
        return (self.user, self.role, self.domain)

    def csv(self) -> str:
        return f"g, {self.user}, {self.role}, {self.domain}, {show_time(self.start)}, " + (
            show_time(self.until)
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    assignments: tuple[Assignment, ...]
    source: str = "<policy>"
    text: str = field(default="", repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def roles(self) -> set[str]:
        """Roles the policy defines: those some rule grants or denies something to."""
        return {r.role for r in self.rules}

    def users(self) -> set[str]:
        return {a.user for a in self.assignments}

    def projects(self) -> set[str]:
        named = {r.domain for r in self.rules} | {a.domain for a in self.assignments}
        return named - {GLOBAL}

    def to_csv(self) -> str:
        """A canonical text of the policy (used when it was not read from a file)."""
        lines = [r.csv() for r in self.rules] + [a.csv() for a in self.assignments]
        return "\n".join(lines) + "\n"


def parse_time(value: str) -> datetime:
    """An ISO date (00:00 UTC that day) or an ISO date-time with a time zone."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(
            f"bad date '{value}' ({exc}): use YYYY-MM-DD, or YYYY-MM-DDTHH:MM with a time zone"
        ) from None
    if at.tzinfo is None:
        raise BadInput(f"bad date '{value}': give a time zone (e.g. {text}Z) or a date alone")
    return at.astimezone(UTC)


def show_time(at: datetime) -> str:
    at = at.astimezone(UTC)
    if at.time() == time(0):
        return at.date().isoformat()
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _split(raw: str) -> list[str] | None:
    try:
        return [f.strip() for f in next(csv.reader([raw], skipinitialspace=True))]
    except (csv.Error, StopIteration):
        return None


def _check_name(value: str, what: str, wildcard: bool) -> str | None:
    if wildcard and value == GLOBAL:
        return None
    if not value:
        return f"{what} is empty"
    if not NAME.match(value):
        allowed = " or *" if wildcard else ""
        return (
            f"{what} '{value}' is not a valid name (letters, digits, _ . @ + -{allowed})"
        )
    return None


def _parse_rule(fields: list[str], line: int) -> tuple[Rule | None, list[str]]:
    if len(fields) != 6:
        return None, [
            f"a rule needs 6 fields: p, role, project, object, action, allow|deny "
            f"(got {len(fields)})"
        ]
    _, role, domain, obj, action, effect = fields
    errors = [
        e
        for e in (
            _check_name(role, "role", wildcard=False),
            _check_name(domain, "project", wildcard=True),
            _check_name(action, "action", wildcard=True),
        )
        if e
    ]
    if not OBJECT.match(obj):
        errors.append(f"object '{obj}' is not a valid object name (or pattern ending in *)")
    if effect not in EFFECTS:
        errors.append(f"effect '{effect}' must be allow or deny")
    if errors:
        return None, errors
    return Rule(role, domain, obj, action, effect, line), []


def _parse_assignment(fields: list[str], line: int) -> tuple[Assignment | None, list[str]]:
    if len(fields) != 6:
        return None, [
            f"an assignment needs 6 fields: g, user, role, project, from, until "
            f"(got {len(fields)})"
        ]
    _, user, role, domain, start_text, until_text = fields
    errors = [
        e
        for e in (
            _check_name(user, "user", wildcard=False),
            _check_name(role, "role", wildcard=False),
            _check_name(domain, "project", wildcard=True),
        )
        if e
    ]
    times: list[datetime] = []
    for label, text in (("from", start_text), ("until", until_text)):
        try:
            times.append(parse_time(text))
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
    if not errors and times[0] >= times[1]:
        errors.append(f"until ({until_text}) must be after from ({start_text})")
    if errors:
        return None, errors
    return Assignment(user, role, domain, times[0], times[1], line), []


def parse_policy(text: str, source: str = "<policy>") -> tuple[Policy, list[Problem]]:
    """The policy in ``text`` and its syntax problems (bad lines are left out of it)."""
    rules: list[Rule] = []
    assignments: list[Assignment] = []
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = _split(stripped)
        if fields is None:
            problems.append(Problem(source, number, "cannot read this line as CSV"))
            continue
        kind = fields[0]
        if kind == "p":
            rule, errors = _parse_rule(fields, number)
            if rule:
                rules.append(rule)
        elif kind == "g":
            assignment, errors = _parse_assignment(fields, number)
            if assignment:
                assignments.append(assignment)
        else:
            errors = [f"a line starts with p (a rule) or g (an assignment), not '{kind}'"]
        problems += [Problem(source, number, e) for e in errors]
    return Policy(tuple(rules), tuple(assignments), source, text), problems
