"""The policy in the database: seeding, apply, second approval, audit, refusals (both engines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz import PolicyError, load_authz
from tre.authz.apply import GovernanceError, apply_policy, approve_policy
from tre.authz.settings import PolicySettings
from tre.authz.store import PolicyRuleRow, PolicyVersion, current_version, known_names
from tre.clock import FixedClock
from tre.db import transaction

pytestmark = pytest.mark.integration

SEED = Path("policies/policy.csv").read_text()
BOB_CHECKS = SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2027-06-01\n"
DB = sessionmaker[Session]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 1, tzinfo=UTC))


def events(db: DB) -> list[dict[str, Any]]:
    with db() as s:
        return [e.as_dict() for e in s.scalars(select(audit.AuditEvent).order_by(
            audit.AuditEvent.seq))]


def version(db: DB) -> int:
    with db() as s:
        return current_version(s)


def apply(db: DB, clock: FixedClock, text: str, editor: str = "grace", reason: str = "why",
          tables: dict[str, str] | None = None, **settings: Any) -> Any:
    return apply_policy(db, text, "proposed.csv", editor=editor, reason=reason, clock=clock,
                        settings=PolicySettings(**settings), tables=tables)


def test_first_use_seeds_the_policy_file_once_and_audits_it(db: DB, clock: FixedClock) -> None:
    authz = load_authz(db, clock)
    try:
        assert authz.version == 1
        assert authz.user_can("alice", "demo-project", "workspace", "spawn")
        assert authz.enforce("alice", "demo-project", "workspace", "spawn").policy_version == 1
    finally:
        authz.close()
    load_authz(db, clock).close()  # a second process start: no second seed
    assert version(db) == 1
    [seed] = events(db)
    assert (seed["actor"], seed["action"], seed["object_id"]) == ("system", "policy.seed", "1")
    with db() as s:
        rows = s.scalar(select(func.count()).select_from(PolicyRuleRow))
        stored = s.get(PolicyVersion, 1)
    assert stored is not None and stored.text == SEED
    lines = [ln for ln in SEED.splitlines() if ln.strip() and not ln.startswith("#")]
    assert rows == len(lines)


def test_apply_puts_the_change_in_force_with_its_audit_event(db: DB, clock: FixedClock) -> None:
    authz = load_authz(db, clock)
    try:
        assert not authz.user_can("bob", "demo-project", "request", "review")
        outcome = apply(db, clock, BOB_CHECKS, reason="bob checks outputs this term")
        assert (outcome.status, outcome.version) == ("applied", "2")
        assert authz.refresh()
        d = authz.enforce("bob", "demo-project", "request", "review", {"requester": "alice"})
        assert d.allowed and d.policy_version == 2
        assert not authz.user_can("bob", "demo-project", "request", "review",
                                  {"requester": "bob"})
    finally:
        authz.close()
    event = events(db)[-1]
    assert (event["actor"], event["action"], event["object_id"]) == ("grace", "policy.apply", "2")
    details = event["details"]
    assert details["editor"] == "grace"
    assert details["reason"] == "bob checks outputs this term"
    assert (details["version_before"], details["version_after"]) == (1, 2)
    assert details["sha256_before"] != details["sha256_after"]
    assert details["authz"][0]["rule"] == ["governance", "*", "policy", "edit", "allow"]
    gained = {(p["user"], p["domain"], p["obj"], p["action"]) for p in details["diff"]["gained"]}
    assert ("bob", "demo-project", "request", "review") in gained
    assert details["diff"]["lost"] == []
    assert details["diff"]["memberships_added"] == [
        "bob as output_checker in demo-project (2026-01-01 to 2027-06-01)"]
    with db() as s:
        assert audit.verify(s).ok
        row = s.get(PolicyVersion, 2)
    assert row is not None and (row.editor, row.reason) == ("grace", "bob checks outputs this term")


def test_the_same_policy_again_changes_nothing(db: DB, clock: FixedClock) -> None:
    assert apply(db, clock, SEED).status == "unchanged"
    assert version(db) == 1
    assert [e["action"] for e in events(db)] == ["policy.seed"]


@pytest.mark.parametrize("editor", ["alice", "olivia", "carol", "nobody", "governance"])
def test_only_governance_may_apply(db: DB, clock: FixedClock, editor: str) -> None:
    with pytest.raises(GovernanceError, match=f"{editor} may not edit the policy"):
        apply(db, clock, BOB_CHECKS, editor=editor)
    assert version(db) == 1
    assert [e["action"] for e in events(db)] == ["policy.seed"]


def test_an_expired_governance_membership_may_not_apply(db: DB, clock: FixedClock) -> None:
    clock.set(datetime(2099, 1, 1, tzinfo=UTC))
    with pytest.raises(GovernanceError, match="grace may not edit the policy"):
        apply(db, clock, BOB_CHECKS)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p, researcher, *, request", "proposed.csv:88: a rule needs 6 fields"),
        ("g, bob, reseacher, demo-project, 2026-01-01, 2027-01-01",
         "proposed.csv:88: unknown role 'reseacher'"),
        ("g, bob, researcher, demo-project, 2026-01-01, 2026-02-30", "proposed.csv:88: until: bad"),
    ],
)
def test_bad_input_is_refused_and_the_policy_stays(db: DB, clock: FixedClock, line: str,
                                                   message: str) -> None:
    authz = load_authz(db, clock)
    text = SEED + "\n" * (87 - SEED.count("\n")) + line + "\n"
    try:
        with pytest.raises(PolicyError) as info:
            apply(db, clock, text)
        problem = info.value.problems[0]
        assert f"{problem.source}:{problem.line}: {problem.message}".startswith(message)
        assert not authz.refresh() and authz.version == 1
    finally:
        authz.close()
    assert [e["action"] for e in events(db)] == ["policy.seed"]


def test_a_proposal_failing_the_truth_tables_is_refused(db: DB, clock: FixedClock) -> None:
    without_bob = "\n".join(ln for ln in SEED.splitlines() if not ln.startswith("g, bob,"))
    with pytest.raises(GovernanceError) as info:
        apply(db, clock, without_bob)
    message = str(info.value)
    assert "the proposed policy fails" in message
    assert "scoping.yaml:" in message and "bob in demo-project: workspace spawn" in message
    assert version(db) == 1


def test_a_reason_is_required(db: DB, clock: FixedClock) -> None:
    with pytest.raises(GovernanceError, match="a reason is required"):
        apply(db, clock, BOB_CHECKS, reason="  ")


def test_the_change_and_its_audit_event_commit_together(
    db: DB, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_authz(db, clock).close()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("tre.authz.apply.audit.record", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        apply(db, clock, BOB_CHECKS)
    assert version(db) == 1
    with db() as s:
        assert s.get(PolicyVersion, 2) is None


def test_a_change_applied_meanwhile_refuses_the_slower_one(
    db: DB, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tre.authz.diff import replay as real_replay

    def meanwhile(*args: Any) -> None:
        monkeypatch.setattr("tre.authz.apply.replay", real_replay)
        apply(db, clock, BOB_CHECKS, editor="heidi")  # lands while grace's is being checked
        real_replay(*args)

    monkeypatch.setattr("tre.authz.apply.replay", meanwhile)
    other = SEED + "g, dave, researcher, demo-project, 2026-01-01, 2027-01-01\n"
    with pytest.raises(GovernanceError, match=r"the policy changed \(version 1 -> 2\)"):
        apply(db, clock, other)
    assert version(db) == 2


def test_second_approval_never_by_the_editor(db: DB, clock: FixedClock) -> None:
    outcome = apply(db, clock, BOB_CHECKS, second_approval=True, reason="bob helps")
    assert outcome.status == "proposed" and version(db) == 1
    proposal = outcome.proposal
    second = PolicySettings(second_approval=True)
    with pytest.raises(GovernanceError, match="editor-never-approves-own-edit"):
        approve_policy(db, proposal, approver="grace", clock=clock, settings=second)
    with pytest.raises(GovernanceError, match="alice may not approve the policy"):
        approve_policy(db, proposal, approver="alice", clock=clock, settings=second)
    assert version(db) == 1
    done = approve_policy(db, proposal, approver="heidi", clock=clock, settings=second)
    assert (done.status, done.version) == ("applied", "2")
    with pytest.raises(GovernanceError, match="already applied"):
        approve_policy(db, proposal, approver="heidi", clock=clock, settings=second)
    propose, applied = [e for e in events(db) if e["action"] != "policy.seed"]
    assert (propose["action"], propose["actor"]) == ("policy.propose", "grace")
    assert (applied["action"], applied["actor"]) == ("policy.apply", "heidi")
    assert applied["details"]["editor"] == "grace"
    assert applied["details"]["approved_by"] == "heidi"
    assert applied["details"]["reason"] == "bob helps"
    with db() as s:
        row = s.get(PolicyVersion, 2)
    assert row is not None and (row.editor, row.approved_by) == ("grace", "heidi")


def test_diff_replays_audited_decisions(db: DB, clock: FixedClock, tmp_path: Path) -> None:
    authz = load_authz(db, clock)
    try:
        with transaction(db) as s:
            for user in ("alice", "bob"):
                d = authz.enforce(user, "demo-project", "workspace", "spawn")
                audit.record(s, actor=user, action="workspace.spawn", object_type="workspace",
                             object_id=user, project="demo-project", clock=clock,
                             details={"decision": d.audit_details()})
            # the airlock's style too: the decision's keys at the top of the details
            d = authz.enforce("carol", "demo-project", "request", "review", {"requester": "bob"})
            audit.record(s, actor="carol", action="request.review", object_type="request",
                         object_id="r1", clock=clock, details={**d.audit_details(), "vote": "x"})
    finally:
        authz.close()
    no_alice = SEED.replace("g, alice, researcher, demo-project, 2025-01-01, 2099-01-01",
                            "g, alice, researcher, demo-project, 2025-01-01, 2026-05-01")
    # the shipped tables rightly insist on alice: new tables go with the proposal
    table = {"minimal.yaml": "cases: [{subject: grace, domain: '*', allow: [policy edit]}]\n"}
    outcome = apply(db, clock, no_alice, reason="alice's project ended", tables=table)
    assert outcome.status == "proposed"  # new truth tables: never one person's decision
    diff = outcome.diff
    assert diff["replayed"] == 3
    assert [(r["subject"], r["was"], r["would_be"]) for r in diff["replay_changes"]] == [
        ("alice", True, False)]
    assert ("alice", "demo-project", "workspace", "spawn") in {
        (p["user"], p["domain"], p["obj"], p["action"]) for p in diff["lost"]}
    assert diff["memberships_redated"] == [
        "alice as researcher in demo-project (2025-01-01 to 2099-01-01) -> "
        "alice as researcher in demo-project (2025-01-01 to 2026-05-01)"]
    assert json.dumps(diff)  # it went into the audit log as JSON


def test_known_names_come_from_the_policy_and_the_audit_log(db: DB, clock: FixedClock) -> None:
    load_authz(db, clock).close()
    with transaction(db) as s:
        audit.record(s, actor="zoe", action="x", object_type="t", object_id="1",
                     project="zoe-project", clock=clock)
    with db() as s:
        known = known_names(s)
    assert {"alice", "grace", "zoe"} <= known.users and "system" not in known.users
    assert known.projects == {"demo-project", "zoe-project"}
