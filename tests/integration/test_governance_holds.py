"""Governance that cannot be bypassed from the command line (issue 13).

The attacks of the issue, each refused: replacing the shipped truth tables with a
trivial one at apply time; ``--as`` naming whoever the caller likes; one governance
user changing the policy or loosening a profile below its floor alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from tre import audit
from tre.authz import load_authz
from tre.authz.caller import os_user
from tre.authz.profiles import FLOORS, below_floors
from tre.cli import app
from tre.db import make_engine, session_factory
from tre.settings import reset_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "policies" / "policy.csv").read_text()
# The policy of the attack: mallory's suspension lifted.
LIFTED = SEED.replace("g, mallory, suspended, *, 2026-01-01, 2099-01-01\n", "")
TRIVIAL = "cases: [{subject: grace, domain: '*', allow: [policy edit]}]\n"
STRONG_KEY = "f3a9c1d27be84e6a90d5c3b71e2f48a6"


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRE_DATABASE_URL", db_url)
    reset_settings()
    return db_url


@pytest.fixture
def production(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """TRE_ENVIRONMENT=production, with the account running the tests as a governance
    user of the seed policy (as a real server's governance team would be)."""
    seed = tmp_path / "seed.csv"
    seed.write_text(SEED + f"g, {os_user()}, governance, *, 2025-01-01, 2099-01-01\n")
    monkeypatch.setenv("TRE_POLICY_SEED_FILE", str(seed))
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", STRONG_KEY)
    reset_settings()
    return database


def tre(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write(tmp_path: Path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def factory(url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(url))


def other_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next commands run from another operating-system account (a second governance
    user's own): one account never approves its own proposal (tre.authz.proposer)."""
    monkeypatch.setattr("tre.authz.caller.os_user", lambda: "heidi-account")


def mallory_may_submit(url: str) -> bool:
    authz = load_authz(factory(url))
    try:
        authz.refresh()
        return authz.user_can("mallory", "demo-project", "request", "create")
    finally:
        authz.close()


def events(url: str, action: str) -> list[dict[str, object]]:
    with factory(url)() as s:
        rows = s.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == action)
                         .order_by(audit.AuditEvent.seq))
        return [e.as_dict() for e in rows]


def test_trivial_tables_at_apply_time_do_not_replace_the_shipped_ones(
    tmp_path: Path, database: str
) -> None:
    # Development, second approval off: the attack applied the policy at once.
    result = tre("policy", "apply", write(tmp_path, LIFTED, "proposed.csv"),
                 "--tests", write(tmp_path, TRIVIAL, "trivial.yaml"),
                 "--reason", "lift everything", "--as", "grace")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("proposed: policy proposal 1, waiting for a second")
    assert "the truth tables change: a second governance user must approve" in result.stdout
    assert "  removed roles.yaml" in result.stdout and "  added trivial.yaml" in result.stdout
    assert "breaks case in force: " in result.stdout
    assert not mallory_may_submit(database)  # nothing changed
    # Without new tables, the tables in force (stored in the database) refuse it.
    result = tre("policy", "apply", write(tmp_path, LIFTED, "proposed.csv"),
                 "--reason", "lift everything", "--as", "grace")
    assert result.exit_code == 2
    assert "truth-table cases (the tables in force (policy version 1))" in result.stderr
    assert "mallory" in result.stderr
    # The editor can never be the second approver.
    result = tre("policy", "approve", "1", "--as", "grace")
    assert result.exit_code == 2 and "editor-never-approves-own-edit" in result.stderr
    assert not mallory_may_submit(database)


def test_tables_in_force_come_from_the_database_not_the_environment(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tre("policy", "lint").exit_code == 0
    load_authz(factory(database)).close()  # seeded: the shipped tables stored with version 1
    folder = tmp_path / "tables"
    folder.mkdir()
    write(folder, TRIVIAL, "trivial.yaml")
    monkeypatch.setenv("TRE_POLICY_TESTS_DIR", str(folder))
    result = tre("policy", "apply", write(tmp_path, LIFTED, "proposed.csv"),
                 "--reason", "lift everything", "--as", "grace")
    assert result.exit_code == 2, result.output
    assert not mallory_may_submit(database)


def test_new_tables_take_effect_only_with_a_second_approver(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    for path in (REPO / "policies" / "tests").glob("*.yaml"):
        write(tables, path.read_text(), path.name)
    extra = "cases: [{subject: bob, domain: demo-project, allow: [request review]}]\n"
    write(tables, extra, "bob.yaml")
    bob = SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n"
    result = tre("policy", "apply", write(tmp_path, bob, "proposed.csv"), "--tests",
                 str(tables), "--reason", "bob checks", "--as", "grace", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "proposed"
    assert outcome["diff"]["truth_tables"]["added"] == ["bob.yaml"]
    assert outcome["diff"]["truth_tables"]["cases_in_force_broken"] == []
    other_account(monkeypatch)
    result = tre("policy", "approve", str(outcome["proposal"]), "--as", "heidi")
    assert result.exit_code == 0, result.output
    # bob.yaml is in force now: a change taking bob's role away fails it.
    result = tre("policy", "apply", write(tmp_path, SEED, "back.csv"),
                 "--reason", "undo", "--as", "grace")
    assert result.exit_code == 2
    assert "(the tables in force (policy version 2))" in result.stderr
    assert "bob in demo-project: request review" in result.stderr


def test_as_is_refused_outside_development(tmp_path: Path, production: str) -> None:
    result = tre("policy", "apply", write(tmp_path, SEED + "\n", "proposed.csv"),
                 "--reason", "r", "--as", "grace")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --as is refused when TRE_ENVIRONMENT=production: tre acts as the "
        f"operating-system user that runs it (here: {os_user()}); run the command as that "
        "person's own account\n")
    assert events(production, "policy.propose") == []


def test_production_acts_as_the_os_user_and_needs_a_second_approver(
    tmp_path: Path, production: str
) -> None:
    bob = SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n"
    result = tre("policy", "apply", write(tmp_path, bob, "proposed.csv"),
                 "--reason", "bob checks")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("proposed: policy proposal 1")  # second approval: on
    [event] = events(production, "policy.propose")
    assert event["actor"] == os_user()
    details = event["details"]
    assert isinstance(details, dict)
    assert details["caller"] == {"os_user": os_user(), "identified_by": "os"}
    result = tre("policy", "approve", "1")
    assert result.exit_code == 2 and "editor-never-approves-own-edit" in result.stderr


def test_second_approval_cannot_be_switched_off_in_production(
    tmp_path: Path, production: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRE_POLICY_SECOND_APPROVAL", "false")
    result = tre("policy", "apply", write(tmp_path, SEED + "\n", "proposed.csv"),
                 "--reason", "r")
    assert result.exit_code == 2
    assert "TRE_POLICY_SECOND_APPROVAL=false is refused when TRE_ENVIRONMENT=production" in (
        result.stderr)


def test_development_records_the_account_behind_as(tmp_path: Path, database: str) -> None:
    bob = SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n"
    result = tre("policy", "apply", write(tmp_path, bob, "proposed.csv"),
                 "--reason", "r", "--as", "grace")
    assert result.exit_code == 0, result.output
    [event] = events(database, "policy.apply")
    assert event["actor"] == "grace"
    details = event["details"]
    assert isinstance(details, dict)
    assert details["caller"] == {"os_user": os_user(), "identified_by": "--as (development)"}


def test_a_profile_below_its_floor_needs_two_approvers(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The issue: one governance user took min_count 10 -> 1, and a cell of 3 was released.
    text = (REPO / "policies/profiles/default.yaml").read_text()
    loose = text.replace('version: "1"', 'version: "2"').replace("min_count: 10 ",
                                                                "min_count: 1 ")
    assert "min_count: 1 " in loose
    path = write(tmp_path, loose, "default.yaml")
    result = tre("profile", "apply", path, "--reason", "more output", "--as", "grace")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "proposed: profile proposal 1, waiting for a second governance user: "
        "tre profile approve 1\n"
        "  (below the floor set in code: min_count 1 (floor 10); a second governance user "
        "must approve)\n")
    assert events(database, "profile.apply") == []
    assert tre("profile", "approve", "1", "--as", "grace").exit_code == 2
    other_account(monkeypatch)
    result = tre("profile", "approve", "1", "--as", "heidi")
    assert result.exit_code == 0, result.output
    [applied] = events(database, "profile.apply")
    assert applied["actor"] == "heidi"
    # Stricter changes, or changes within the floors, still need one person in development.
    strict = text.replace('version: "1"', 'version: "3"').replace("min_count: 10 ",
                                                                 "min_count: 12 ")
    result = tre("profile", "apply", write(tmp_path, strict, "default.yaml"),
                 "--reason", "r", "--as", "grace")
    assert result.stdout == "applied: profile version 3\n", result.output


def test_the_shipped_profiles_are_within_their_floors() -> None:
    from statbarn.profile import load_profile_file

    for path in (REPO / "policies" / "profiles").glob("*.yaml"):
        assert below_floors(load_profile_file(path)) == [], path
    assert FLOORS["min_count"] == 10


def test_a_database_from_before_stored_tables_keeps_them_from_its_next_change(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import delete

    from tre.authz.store import PolicyTruthTable
    from tre.db import transaction

    load_authz(factory(database)).close()
    with transaction(factory(database)) as s:  # as a database seeded before this change
        s.execute(delete(PolicyTruthTable))
    bob = SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n"
    result = tre("policy", "apply", write(tmp_path, bob, "proposed.csv"),
                 "--reason", "r", "--as", "grace")
    assert result.exit_code == 0, result.output
    with factory(database)() as s:
        stored = sorted(s.scalars(select(PolicyTruthTable.name)
                                  .where(PolicyTruthTable.version == 2)))
    assert stored == sorted(p.name for p in (REPO / "policies/tests").glob("*.yaml"))
    # ... so the environment cannot swap them afterwards.
    folder = tmp_path / "tables"
    folder.mkdir()
    write(folder, TRIVIAL, "trivial.yaml")
    monkeypatch.setenv("TRE_POLICY_TESTS_DIR", str(folder))
    result = tre("policy", "apply", write(tmp_path, LIFTED, "lifted.csv"),
                 "--reason", "lift", "--as", "grace")
    assert result.exit_code == 2 and "(policy version 2)" in result.stderr
