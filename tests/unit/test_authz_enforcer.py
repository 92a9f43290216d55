"""The decision engine: the rule that decided, deny rules, time-bounded memberships."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tre.authz import Authz, Decision, Forbidden, load_authz
from tre.authz.lint import validate
from tre.clock import FixedClock

START = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = """\
p, researcher, *, workspace, spawn, allow
p, researcher, *, request, *, allow
p, researcher, *, request, review, deny
p, output_checker, *, request, review, allow
p, operator, *, audit, verify, allow
p, operator, *, dataset, *, deny
p, researcher, *, dataset, read, allow
g, alice, researcher, demo-project, 2025-01-01, 2027-01-01T12:00Z
g, carol, output_checker, *, 2025-01-01, 2099-01-01
g, olivia, operator, *, 2025-01-01, 2099-01-01
g, olivia, researcher, demo-project, 2025-01-01, 2099-01-01
g, newbie, researcher, demo-project, 2026-07-01, 2099-01-01
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def authz(clock: FixedClock) -> Authz:
    return Authz(validate(POLICY, "test.csv", START), clock)


def test_an_allow_names_the_rule_that_allowed(authz: Authz) -> None:
    d = authz.enforce("alice", "demo-project", "workspace", "spawn")
    assert d == Decision("alice", "demo-project", "workspace", "spawn", True,
                         ("researcher", "*", "workspace", "spawn", "allow"))
    # a wildcard action: the wildcard rule is named
    assert authz.enforce("alice", "demo-project", "request", "submit",
                         {"requester": "alice"}).rule == (
        "researcher", "*", "request", "*", "allow")


def test_a_deny_names_the_deny_rule_and_beats_any_allow(authz: Authz) -> None:
    d = authz.enforce("alice", "demo-project", "request", "review", {"requester": "bob"})
    assert not d.allowed
    assert d.rule == ("researcher", "*", "request", "review", "deny")
    # olivia is operator AND researcher: the operator's deny wins over the researcher's allow
    d = authz.enforce("olivia", "demo-project", "dataset", "read")
    assert (d.allowed, d.rule) == (False, ("operator", "*", "dataset", "*", "deny"))
    assert authz.user_can("olivia", "demo-project", "workspace", "spawn")


def test_nothing_matching_is_a_deny_with_no_rule(authz: Authz) -> None:
    d = authz.enforce("alice", "other-project", "workspace", "spawn")
    assert (d.allowed, d.rule) == (False, None)
    assert authz.enforce("nobody", "demo-project", "workspace", "spawn").rule is None
    # a project membership does not hold globally
    assert not authz.user_can("alice", "*", "workspace", "spawn")
    # a global membership holds in every project and globally
    assert authz.in_general("carol", "any-project", "request", "review")
    assert authz.in_general("carol", "*", "request", "review")


def test_check_raises_forbidden_with_the_decision(authz: Authz) -> None:
    assert authz.check("carol", "demo-project", "request", "review", {"requester": "bob"}).allowed
    with pytest.raises(Forbidden) as info:
        authz.check("alice", "demo-project", "request", "review", {"requester": "bob"})
    assert str(info.value) == "alice may not review request in demo-project"
    assert info.value.decision.rule == ("researcher", "*", "request", "review", "deny")


def test_membership_ends_at_the_given_time(authz: Authz, clock: FixedClock) -> None:
    clock.set(datetime(2027, 1, 1, 11, 59, 59, 999999, tzinfo=UTC))
    assert authz.user_can("alice", "demo-project", "workspace", "spawn")
    assert authz.roles_in("alice", "demo-project") == ["researcher"]
    clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))  # the workspace can't be started now
    assert not authz.user_can("alice", "demo-project", "workspace", "spawn")
    assert authz.enforce("alice", "demo-project", "workspace", "spawn").rule is None
    assert authz.roles_in("alice", "demo-project") == []
    assert authz.domains_of("alice") == []
    clock.set(START)  # the clock going back brings it back: no state is cached
    assert authz.user_can("alice", "demo-project", "workspace", "spawn")


def test_membership_starts_at_the_given_time(authz: Authz, clock: FixedClock) -> None:
    assert not authz.user_can("newbie", "demo-project", "workspace", "spawn")
    clock.set(datetime(2026, 7, 1, tzinfo=UTC))
    assert authz.user_can("newbie", "demo-project", "workspace", "spawn")


def test_asking_about_another_time(authz: Authz) -> None:
    late = datetime(2027, 6, 1, tzinfo=UTC)
    assert not authz.enforce("alice", "demo-project", "workspace", "spawn", at=late).allowed
    assert authz.enforce("alice", "demo-project", "workspace", "spawn").allowed


def test_roles_and_domains(authz: Authz) -> None:
    assert authz.roles_in("olivia", "demo-project") == ["operator", "researcher"]
    assert authz.roles_in("olivia", "other") == ["operator"]
    assert authz.domains_of("olivia") == ["*", "demo-project"]
    assert authz.domains_of("olivia", "operator") == ["*"]
    assert authz.domains_of("newbie") == []


def test_audit_details_carry_everything_needed_to_replay(authz: Authz) -> None:
    d = authz.enforce("carol", "demo-project", "request", "review", {"requester": "alice"})
    assert d.audit_details() == {
        "allowed": True,
        "rule": ["output_checker", "*", "request", "review", "allow"],
        "subject": "carol",
        "domain": "demo-project",
        "object": "request",
        "action": "review",
        "policy_version": None,
        "context": {"requester": "alice"},
    }


def test_replace_swaps_the_policy(authz: Authz) -> None:
    assert not authz.user_can("carol", "demo-project", "workspace", "spawn")
    authz.replace(validate(POLICY + "g, carol, researcher, *, 2025-01-01, 2099-01-01\n",
                           "new.csv", START), version=7)
    d = authz.enforce("carol", "demo-project", "workspace", "spawn")
    assert d.allowed and d.policy_version == 7


def test_decisions_from_many_threads_use_their_own_time(clock: FixedClock) -> None:
    authz = Authz(validate(POLICY, "t.csv", START), clock)
    before, after = START, datetime(2028, 1, 1, tzinfo=UTC)
    wrong: list[str] = []

    def ask(at: datetime, expected: bool) -> None:
        for _ in range(200):
            if authz.enforce("alice", "demo-project", "workspace", "spawn", at=at).allowed \
                    != expected:
                wrong.append(at.isoformat())

    threads = [threading.Thread(target=ask, args=(before, True)),
               threading.Thread(target=ask, args=(after, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_the_model_must_keep_deny_wins(tmp_path: Path) -> None:
    model = Path("policies/model.conf").read_text().replace(
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
        "e = some(where (p.eft == allow))")
    (tmp_path / "model.conf").write_text(model)
    with pytest.raises(ValueError, match=r"\[policy_effect\] must be"):
        Authz.from_files(tmp_path / "model.conf")


def test_load_authz_without_a_database_reads_the_files(clock: FixedClock) -> None:
    authz = load_authz(None, clock)
    assert authz.version is None
    assert authz.user_can("alice", "demo-project", "workspace", "spawn")
    assert not authz.refresh()
    authz.close()


def test_remembered_answers_are_casbins_at_every_time(clock: FixedClock) -> None:
    """Answers are remembered between two times at which a membership starts or ends:
    asked around every such time, before and after, they are what a fresh decision
    engine (which has remembered nothing) gives."""
    policy = validate(POLICY, "t.csv", START)
    authz = Authz(policy, clock)
    edges = sorted({t for a in policy.assignments for t in (a.start, a.until)})
    tick = timedelta(microseconds=1)
    times = [t + d for t in edges for d in (-tick, timedelta(0), tick)]
    questions = [(s, d, o, a) for s in ("alice", "carol", "olivia", "newbie", "nobody")
                 for d in ("demo-project", "other", "*")
                 for o, a in (("workspace", "spawn"), ("request", "review"),
                              ("dataset", "read"), ("audit", "verify"))]
    for _ in range(2):  # the second pass answers from memory
        for at in [*times, *reversed(times)]:
            fresh = Authz(policy, FixedClock(at))
            for q in questions:
                assert authz.enforce(*q, at=at) == fresh.enforce(*q), (q, at)
    clock.set(times[-1])
    assert authz.enforce("alice", "demo-project", "workspace", "spawn") == \
        Authz(policy, FixedClock(times[-1])).enforce("alice", "demo-project", "workspace", "spawn")
