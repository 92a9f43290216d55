"""Memberships granted and revoked through tre.authz: policy versions, audited, time-bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz import load_authz
from tre.authz.apply import GovernanceError
from tre.authz.memberships import grant_membership, revoke_membership
from tre.clock import FixedClock

pytestmark = pytest.mark.integration
DB = sessionmaker[Session]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def grant(db: DB, clock: FixedClock, actor: str = "grace", **kw: Any) -> Any:
    args = {"user": "zoe", "role": "researcher", "project": "demo-project", "until": END,
            "actor": actor, "reason": "ethics approval 2026/14", "clock": clock, **kw}
    return grant_membership(db, **args)


def test_a_granted_membership_starts_now_and_ends_by_itself(db: DB, clock: FixedClock) -> None:
    authz = load_authz(db, clock)
    try:
        assert not authz.user_can("zoe", "demo-project", "workspace", "spawn")
        assert grant(db, clock).status == "applied"
        assert authz.refresh()
        assert authz.user_can("zoe", "demo-project", "workspace", "spawn")
        assert not authz.user_can("zoe", "other-project", "workspace", "spawn")
        clock.set(END - timedelta(microseconds=1))
        assert authz.user_can("zoe", "demo-project", "workspace", "spawn")
        clock.set(END)  # the workspace can't be started from the end time on
        assert not authz.user_can("zoe", "demo-project", "workspace", "spawn")
        assert authz.roles_in("zoe", "demo-project") == []
    finally:
        authz.close()
    with db() as s:
        event = s.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq.desc())).first()
    assert event is not None
    assert (event.action, event.actor, event.project) == (
        "membership.grant", "grace", "demo-project")
    details = event.as_dict()["details"]
    assert details["diff"]["memberships_added"] == [
        "zoe as researcher in demo-project (2026-06-01 to 2026-09-30T17:00:00Z)"]
    assert details["authz"][0]["action"] == "grant"


def test_granting_again_replaces_the_dates(db: DB, clock: FixedClock) -> None:
    grant(db, clock)
    outcome = grant(db, clock, until=END + timedelta(days=365))
    assert outcome.diff["memberships_redated"]
    authz = load_authz(db, clock)
    try:
        [zoe] = [a for a in authz.policy.assignments if a.user == "zoe"]
        assert zoe.until == END + timedelta(days=365)
    finally:
        authz.close()


def test_only_those_allowed_to_grant_may(db: DB, clock: FixedClock) -> None:
    for actor in ("alice", "cedric", "olivia"):
        with pytest.raises(GovernanceError, match=f"{actor} may not grant memberships in demo"):
            grant(db, clock, actor=actor)
    with pytest.raises(GovernanceError, match="must be after"):
        grant(db, clock, until=NOW - timedelta(days=1))
    with pytest.raises(GovernanceError, match="a reason is required"):
        grant(db, clock, reason=" ")


def test_revoke_takes_the_role_away_now(db: DB, clock: FixedClock) -> None:
    grant(db, clock)
    outcome = revoke_membership(db, user="zoe", role="researcher", project="demo-project",
                                actor="heidi", reason="left the project", clock=clock)
    assert outcome.status == "applied"
    lost: Any = outcome.diff["lost"]
    assert ("zoe", "demo-project", "workspace", "spawn") in {
        (p["user"], p["domain"], p["obj"], p["action"]) for p in lost}
    with pytest.raises(GovernanceError, match="zoe is not researcher in demo-project"):
        revoke_membership(db, user="zoe", role="researcher", project="demo-project",
                          actor="heidi", reason="again", clock=clock)
