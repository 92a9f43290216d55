"""The shipped truth tables: they pass, they are complete, and bad tables are named precisely."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tre.authz import Authz
from tre.authz.invariants import general_context
from tre.authz.truthtable import TableError, load_table, load_tables, run
from tre.authz.vocabulary import all_actions

TABLES = Path("policies/tests")


@pytest.fixture(scope="module")
def shipped() -> Authz:
    return Authz.from_files()


def test_the_shipped_tables_pass(shipped: Authz) -> None:
    count, failures = run(shipped, load_tables([TABLES]))
    assert failures == []
    assert count > 400


def test_every_role_is_asked_every_action(shipped: Authz) -> None:
    covered: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    cases = load_table(TABLES / "roles.yaml")
    for case in cases:
        covered[(case.subject, case.domain)].add((case.obj, case.action))
    at = cases[0].at
    complete_for: set[str] = set()
    for (subject, domain), asked in covered.items():
        if asked == set(all_actions()):
            complete_for |= {a.role for a in shipped.memberships(subject, at)
                             if a.domain in (domain, "*")}
    assert complete_for >= shipped.policy.roles()


def test_every_rule_of_the_shipped_policy_decides_some_case(shipped: Authz) -> None:
    decided = {shipped.enforce(c.subject, c.domain, c.obj, c.action,
                               c.context or general_context(c.subject, c.obj, c.action),
                               at=c.at).rule for c in load_tables([TABLES])}
    assert {r.fields() for r in shipped.policy.rules} <= decided
    assert any(rule and rule[0] == "invariant" for rule in decided)


def test_the_tables_cover_expiry_and_invariants() -> None:
    cases = load_tables([TABLES])
    assert any(c.at and c.at.year == 2027 and not c.expect for c in cases)
    assert {k for c in cases for k in c.context} == {"requester", "editor"}


def test_a_failing_case_says_where_and_why(tmp_path: Path, shipped: Authz) -> None:
    table = tmp_path / "t.yaml"
    table.write_text("at: 2026-06-01\ncases:\n"
                     "  - {subject: alice, domain: demo-project, object: request,\n"
                     "     action: review, expect: allow}\n")
    _, failures = run(shipped, load_table(table))
    assert str(failures[0]) == (f"{table}:3: alice in demo-project: request review at "
                                "2026-06-01T00:00:00+00:00: expected allow, got deny "
                                "(no rule matched)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: [", "not valid YAML"),
        ("cases: []", "needs a non-empty list of cases"),
        ("cases:\n  - {domain: d, object: o, action: a, expect: allow}", ":2: 'subject' must"),
        ("cases:\n  - {subject: s, domain: d, object: o, action: a, expect: yes}",
         ":2: 'expect' must be allow or deny"),
        ("cases:\n  - {subject: s, domain: d, object: o, action: a, expect: allow, who: x}",
         ":2: unknown key(s) who"),
        ("cases:\n\n  - {subject: s, domain: d, allow: [request]}",
         ":3: 'request' under allow: must be \"object action\""),
        ("cases:\n  - {subject: s, domain: d}", ":2: a case needs object/action/expect"),
        ("cases:\n  - {subject: s, domain: d, allow: [a b], at: 2026-01-01T10:00:00}",
         ":2: 'at' needs a time zone"),
        ("cases:\n  - {subject: s, domain: d, allow: [a b], at: tomorrow}", ":2: bad date"),
        ("cases:\n  - {subject: s, domain: *, allow: [a b]}", "not valid YAML"),
    ],
)
def test_bad_tables_are_named_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    table = tmp_path / "bad.yaml"
    table.write_text(text + "\n")
    with pytest.raises(TableError) as info:
        load_table(table)
    assert str(info.value).startswith(str(table))
    assert message in str(info.value)


def test_missing_tables_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no such truth table"):
        load_tables([tmp_path / "nope.yaml"])
    with pytest.raises(TableError, match="no truth tables found"):
        load_tables([tmp_path])
