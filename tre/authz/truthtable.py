"""Truth tables: what a policy must allow and deny, written down by the governance team.

A table is a YAML file (``policies/tests/*.yaml``)::

    at: 2026-06-01              # optional: the time every case is asked at (default now)
    cases:
      # one question per case ...
      - {subject: alice, domain: demo-project, object: request, action: create, expect: allow}
      # ... or many: every "object action" listed under allow: and deny:
      - subject: carol
        domain: demo-project
        allow: [request review, queue read]
        deny: [workspace spawn]
      # optional per case: at (a date, or a date-time with a time zone), context
      - {subject: carol, domain: demo-project, object: request, action: review,
         context: {requester: carol}, expect: deny}

Every problem names the file and the line of its case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from tre.authz.enforcer import Authz, Decision
from tre.authz.invariants import general_context
from tre.authz.policyfile import parse_time
from tre.errors import TreError

CASE_KEYS = {"subject", "domain", "object", "action", "expect", "allow", "deny", "at",
             "context", "note"}


class TableError(TreError, ValueError):
    """A truth table that cannot be read; the message names the file and line."""

    code = "truth_table"
    status = 422


@dataclass(frozen=True)
class Case:
    subject: str
    domain: str
    obj: str
    action: str
    expect: bool
    source: str
    line: int
    at: datetime | None = None
    context: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        when = f" at {self.at.isoformat()}" if self.at else ""
        ctx = "".join(f" ({k}={v})" for k, v in sorted(self.context.items()))
        return f"{self.subject} in {self.domain}: {self.obj} {self.action}{ctx}{when}"


@dataclass(frozen=True)
class Failure:
    case: Case
    decision: Decision

    def __str__(self) -> str:
        want = "allow" if self.case.expect else "deny"
        got = "allow" if self.decision.allowed else "deny"
        rule = ", ".join(self.decision.rule) if self.decision.rule else "no rule matched"
        return (f"{self.case.source}:{self.case.line}: {self.case.describe()}: expected {want}, "
                f"got {got} ({rule})")


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so that messages can point at a case."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TableError(f"{where}: 'at' needs a time zone (e.g. 2026-06-01T09:00Z)")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise TableError(f"{where}: {exc}") from None


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TableError(f"{where}: '{key}' must be given as a name")
    return value.strip()


def _expect(value: Any, where: str) -> bool:
    if value not in ("allow", "deny"):
        raise TableError(f"{where}: 'expect' must be allow or deny (got {value!r})")
    return bool(value == "allow")


def _cases(entry: Any, source: str, default_at: datetime | None) -> list[Case]:
    if not isinstance(entry, dict):
        raise TableError(f"{source}: every case must be a mapping (subject:, domain:, ...)")
    line = int(entry.pop("__line__", 0))
    where = f"{source}:{line}"
    unknown = set(entry) - CASE_KEYS
    if unknown:
        raise TableError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(sorted(CASE_KEYS))})")
    subject, domain = _text(entry, "subject", where), _text(entry, "domain", where)
    at = _time(entry["at"], where) if "at" in entry else default_at
    context = entry.get("context") or {}
    if not isinstance(context, dict):
        raise TableError(f"{where}: 'context' must be a mapping, e.g. {{requester: alice}}")
    context = {str(k): str(v) for k, v in context.items() if k != "__line__"}
    questions: list[tuple[str, str, bool]] = []
    if "object" in entry or "action" in entry or "expect" in entry:
        questions.append((_text(entry, "object", where), _text(entry, "action", where),
                          _expect(entry.get("expect"), where)))
    for key, expect in (("allow", True), ("deny", False)):
        listed = entry.get(key) or []
        if not isinstance(listed, list):
            raise TableError(f"{where}: '{key}' must be a list of \"object action\"")
        for item in listed:
            parts = str(item).split()
            if len(parts) != 2:
                raise TableError(f"{where}: '{item}' under {key}: must be \"object action\"")
            questions.append((parts[0], parts[1], expect))
    if not questions:
        raise TableError(f"{where}: a case needs object/action/expect, or allow:/deny: lists")
    return [Case(subject, domain, o, a, e, source, line, at, context) for o, a, e in questions]


def load_table(path: Path) -> list[Case]:
    return parse_table(path.read_text(encoding="utf-8"), str(path))


def parse_table(text: str, source: str) -> list[Case]:
    """The cases of one table's text; ``source`` names it in every message."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from None
    if isinstance(data, dict):
        data.pop("__line__", None)
        default_at = _time(data["at"], source) if "at" in data else None
        entries = data.get("cases")
    else:
        default_at, entries = None, data
    if not isinstance(entries, list) or not entries:
        raise TableError(f"{source}: a truth table needs a non-empty list of cases")
    return [case for entry in entries for case in _cases(entry, source, default_at)]


def table_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, with directories expanded to their *.yaml files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        elif path.is_file():
            found.append(path)
        else:
            raise TableError(f"{path}: no such truth table")
    if not found:
        raise TableError("no truth tables found")
    return found


def load_tables(paths: Iterable[Path]) -> list[Case]:
    return [case for path in table_files(paths) for case in load_table(path)]


# Truth tables as a governance change carries them: file name -> text.  The tables in force
# live in the database with the policy version they were applied with (tre.authz.store).
Tables = dict[str, str]
MAX_TABLE_CHARS = 1_000_000


def read_tables(paths: Iterable[Path]) -> Tables:
    """The files named (directories expanded) as name -> text; two of one name are refused."""
    tables: Tables = {}
    for path in table_files(paths):
        if path.name in tables:
            raise TableError(f"{path}: two truth tables are called {path.name}: rename one")
        text = path.read_text(encoding="utf-8")
        if len(text) > MAX_TABLE_CHARS:
            raise TableError(f"{path}: longer than {MAX_TABLE_CHARS:,} characters")
        tables[path.name] = text
    return tables


def table_cases(tables: Tables) -> list[Case]:
    return [case for name in sorted(tables) for case in parse_table(tables[name], name)]


def tables_change(before: Tables, after: Tables) -> dict[str, list[str]]:
    """Which tables a change adds, removes or edits (empty lists: none)."""
    return {"added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "changed": sorted(n for n in set(before) & set(after) if before[n] != after[n])}


def run(authz: Authz, cases: Iterable[Case]) -> tuple[int, list[Failure]]:
    """How many cases ran, and those whose answer differs from the expected one."""
    failures: list[Failure] = []
    count = 0
    for case in cases:
        count += 1
        # A case without a context asks about the typical case (tre.authz.invariants).
        context = case.context or general_context(case.subject, case.obj, case.action)
        decision = authz.enforce(case.subject, case.domain, case.obj, case.action,
                                 context, at=case.at)
        if decision.allowed != case.expect:
            failures.append(Failure(case, decision))
    return count, failures
