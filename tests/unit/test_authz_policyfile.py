"""Reading and linting policy.csv: every problem named with its file, line and cause."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tre.authz.lint import Known, check_text, read_policy_file, validate
from tre.authz.policyfile import PolicyError, parse_policy, parse_time, show_time

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BASE = """\
p, researcher, *, workspace, spawn, allow
p, output_checker, *, request, review, allow
g, alice, researcher, demo-project, 2025-01-01, 2099-01-01
g, carol, output_checker, *, 2025-01-01, 2099-01-01
"""


def problems(text: str, known: Known | None = None) -> list[str]:
    _, found = check_text(text, "proposed.csv", NOW, known)
    return [str(p) for p in found]


def test_the_shipped_policy_is_clean() -> None:
    policy = read_policy_file(Path("policies/policy.csv"), NOW)
    assert {"researcher", "output_checker", "data_custodian", "governance", "operator"} <= (
        policy.roles()
    )
    _, found = check_text(Path("policies/policy.csv").read_text(), "policy.csv", NOW)
    assert found == []


def test_times_dates_are_midnight_utc_and_zones_are_required() -> None:
    assert parse_time("2027-01-01") == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_time("2027-01-01T09:30+01:00") == datetime(2027, 1, 1, 8, 30, tzinfo=UTC)
    assert parse_time("2027-01-01T09:30Z") == datetime(2027, 1, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2027-01-01T09:30")
    with pytest.raises(ValueError, match="bad date '2027-13-01'"):
        parse_time("2027-13-01")
    assert show_time(parse_time("2027-01-01")) == "2027-01-01"
    assert show_time(parse_time("2027-01-01T09:30Z")) == "2027-01-01T09:30:00Z"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p, researcher, *, request", "a rule needs 6 fields"),
        ("g, bob, researcher, demo-project", "an assignment needs 6 fields"),
        ("x, bob, researcher", "starts with p (a rule) or g (an assignment), not 'x'"),
        ("p, researcher, *, request, create, permit", "effect 'permit' must be allow or deny"),
        ("g, bob, researcher, demo-project, 2026-01-01, 2026-02-30", "until: bad date"),
        ("g, bob, researcher, demo-project, soon, 2027-01-01", "from: bad date 'soon'"),
        ("g, bob, researcher, demo-project, 2027-01-01, 2026-01-01", "must be after from"),
        ("g, bob, researcher, demo-project, 2026-01-01T09:00, 2027-01-01", "time zone"),
        ("g, b b, researcher, demo-project, 2026-01-01, 2027-01-01",
         "user 'b b' is not a valid name"),
        ("g, *, researcher, demo-project, 2026-01-01, 2027-01-01", "user '*' is not a valid"),
        ("p, *, *, request, create, allow", "role '*' is not a valid name"),
        ("g, bob, reseacher, demo-project, 2026-01-01, 2027-01-01", "unknown role 'reseacher'"),
        ("g, governance, researcher, demo-project, 2026-01-01, 2027-01-01",
         "user 'governance' has the name of a role"),
        ("g, alice, researcher, demo-project, 2026-01-01, 2027-01-01",
         "alice is already researcher in demo-project on line 3"),
    ],
)
def test_errors_name_file_line_and_problem(line: str, message: str) -> None:
    found = problems(BASE + line + "\n")
    errors = [p for p in found if ": error: " in p]
    assert len(errors) == 1, found
    assert errors[0].startswith("proposed.csv:5: error: ")
    assert message in errors[0]
    with pytest.raises(PolicyError) as info:
        validate(BASE + line + "\n", "proposed.csv", NOW)
    assert info.value.problems[0].line == 5


def test_every_error_is_found_in_one_pass() -> None:
    text = BASE + "p, x\n" + "g, bob, nobody, p1, 2026-01-01, 2027-01-01\n" + "q\n"
    with pytest.raises(PolicyError) as info:
        validate(text, "proposed.csv", NOW)
    assert [p.line for p in info.value.problems] == [5, 6, 7]


def test_comments_blank_lines_and_spacing_are_ignored() -> None:
    text = "# a comment\n\n  p ,researcher,  *, workspace ,spawn, allow  \n" + BASE
    policy, found = parse_policy(text, "x.csv")
    assert found == []
    assert policy.rules[0].fields() == ("researcher", "*", "workspace", "spawn", "allow")
    assert policy.rules[0].line == 3


def test_warnings_expired_never_matching_and_duplicates() -> None:
    text = BASE + "\n".join([
        "g, erin, researcher, demo-project, 2025-01-01, 2026-01-01",  # 5: ended
        "p, researcher, *, request, fly, allow",                      # 6: never asked
        "p, output_checker, other-project, queue, read, allow",       # 7: fine: carol is global
        "p, researcher, other-project, queue, read, allow",           # 8: nobody there
        "p, auditor, *, audit, read, allow",                          # 9: nobody holds it
        "p, researcher, *, workspace, spawn, allow",                  # 10: same as 1
        "p, researcher, *, workspace, *, deny",                       # 11
    ]) + "\n"
    found = problems(text)
    assert all(": warning: " in p for p in found), found
    text_of = "\n".join(found)
    assert "proposed.csv:5: warning: membership of erin as researcher in demo-project ended" \
        in text_of
    assert "proposed.csv:6: warning: tre never asks for 'request fly'" in text_of
    assert "proposed.csv:7:" not in text_of
    assert "proposed.csv:8: warning: nobody holds role 'researcher' in other-project" in text_of
    assert "proposed.csv:9: warning: nobody holds role 'auditor' now or later" in text_of
    assert "proposed.csv:10: warning: same rule as line 1" in text_of
    assert "proposed.csv:1: warning: never takes effect: line 11 denies" in text_of
    validate(text, "proposed.csv", NOW)  # warnings do not refuse a policy


def test_unknown_users_and_projects_when_the_database_knows_better() -> None:
    known = Known(users=frozenset({"alice", "carol"}), projects=frozenset({"demo-project"}))
    assert problems(BASE, known) == []
    found = problems(BASE + "g, alcie, researcher, demo-prject, 2026-01-01, 2027-01-01\n", known)
    assert sorted(found) == [
        "proposed.csv:5: warning: unknown project 'demo-prject': a typo?",
        "proposed.csv:5: warning: unknown user 'alcie' (not in the current policy or the "
        "audit log): a typo?",
    ]


def test_a_policy_without_rules_is_refused() -> None:
    with pytest.raises(PolicyError, match="has no rules"):
        validate("# nothing\n", "empty.csv", NOW)


def test_to_csv_round_trips() -> None:
    policy, _ = parse_policy(BASE, "x.csv")
    again, found = parse_policy(policy.to_csv(), "y.csv")
    assert found == []
    assert [r.fields() for r in again.rules] == [r.fields() for r in policy.rules]
    assert [a.key() for a in again.assignments] == [a.key() for a in policy.assignments]
