"""The catalog on both databases: every change authorised, audited, and refused cleanly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz import load_authz
from tre.authz.apply import GovernanceError
from tre.authz.enforcer import Authz, Forbidden
from tre.catalog import service
from tre.catalog.members import add_member, members, remove_member
from tre.catalog.models import Grant
from tre.catalog.service import CatalogError
from tre.clock import FixedClock
from tre.db import transaction

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

# The rules the catalog asks about, with a governance user, a custodian and a researcher.
TEST_POLICY = """\
p, governance, *, project, create, allow
p, governance, *, dataset, register, allow
p, governance, *, membership, grant, allow
p, governance, *, membership, revoke, allow
p, governance, *, policy, edit, allow
p, governance, *, membership, read, allow
p, governance, *, project, read, allow
p, data_custodian, *, dataset, grant, allow
p, data_custodian, *, dataset, revoke, allow
p, researcher, *, workspace, spawn, allow
p, researcher, *, dataset, read, allow
g, grace, governance, *, 2025-01-01, 2099-01-01
g, cedric, data_custodian, *, 2025-01-01, 2099-01-01
g, dora, data_custodian, *, 2025-01-01, 2099-01-01
"""


@pytest.fixture
def policy_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seed = tmp_path / "policy.csv"
    seed.write_text(TEST_POLICY)
    tables = tmp_path / "truth-tables"
    tables.mkdir()
    (tables / "catalog.yaml").write_text(
        "at: 2026-06-01\ncases:\n  - subject: cedric\n    domain: proj-a\n"
        "    allow: [dataset grant]\n    deny: [project create]\n")
    monkeypatch.setenv("TRE_POLICY_SEED_FILE", str(seed))
    monkeypatch.setenv("TRE_POLICY_TESTS_DIR", str(tables))
    return seed


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def authz(db: sessionmaker[Session], policy_env: Path, clock: FixedClock) -> Any:
    a = load_authz(db, clock)
    yield a
    a.close()


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ehr"
    d.mkdir()
    (d / "person.csv").write_text("person_id,sex\n1,F\n")
    return d


def _events(db: sessionmaker[Session], action: str) -> list[dict[str, Any]]:
    with db() as s:
        rows = s.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == action))
        return [r.as_dict() for r in rows]


def _seed(db: sessionmaker[Session], authz: Authz, clock: FixedClock, dataset_dir: Path) -> None:
    with transaction(db) as s:
        service.create_project(s, authz, name="proj-a", title="Project A", profile="default",
                               actor="grace", clock=clock)
        service.register_dataset(s, authz, name="ehr", location=dataset_dir, custodian="cedric",
                                 tier=3, profile="strict", description="synthetic",
                                 actor="grace", clock=clock)


def test_create_register_grant_are_audited_with_their_decision(
        db: sessionmaker[Session], authz: Authz, clock: FixedClock, dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    with transaction(db) as s:
        service.grant_dataset(s, authz, project="proj-a", dataset="ehr", actor="cedric",
                              note="DAC-2026-7", clock=clock)
    with db() as s:
        assert [d.name for d in service.granted_datasets(s, "proj-a")] == ["ehr"]
        ds = service.get_dataset(s, "ehr")
        assert (ds.tier, ds.custodian, ds.profile) == (3, "cedric", "strict")
        assert ds.location == str(dataset_dir.resolve())
        assert audit.verify(s).ok
    (create,) = _events(db, "project.create")
    assert create["actor"] == "grace" and create["project"] == "proj-a"
    assert create["details"]["authz"][0]["allowed"] is True
    assert create["details"]["authz"][0]["rule"]  # the rule that allowed it
    (grant,) = _events(db, "dataset.grant")
    assert grant["details"]["approved_by"] == "cedric"
    assert grant["details"]["note"] == "DAC-2026-7"
    assert grant["project"] == "proj-a"
    assert _events(db, "dataset.register")[0]["details"]["tier"] == 3


def test_only_the_custodian_can_grant(db: sessionmaker[Session], authz: Authz,
                                      clock: FixedClock, dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    with pytest.raises(CatalogError, match=r"only the custodian of ehr \(cedric\)"), \
            transaction(db) as s:
        service.grant_dataset(s, authz, project="proj-a", dataset="ehr", actor="dora",
                              note="", clock=clock)
    with pytest.raises(Forbidden), transaction(db) as s:  # no dataset grant at all
        service.grant_dataset(s, authz, project="proj-a", dataset="ehr", actor="grace",
                              note="", clock=clock)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Grant)) == 0
    assert _events(db, "dataset.grant") == []


def test_refusals_change_nothing(db: sessionmaker[Session], authz: Authz, clock: FixedClock,
                                 dataset_dir: Path, tmp_path: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    before = len(_events(db, "project.create"))
    cases = [
        (Forbidden, dict(name="proj-b", title="", profile="default", actor="cedric")),
        (CatalogError, dict(name="Bad_Name", title="", profile="default", actor="grace")),
        (CatalogError, dict(name="proj-a", title="", profile="default", actor="grace")),
        (CatalogError, dict(name="proj-c", title="", profile="no-such-profile", actor="grace")),
    ]
    for error, kwargs in cases:
        with pytest.raises(error), transaction(db) as s:
            service.create_project(s, authz, clock=clock, **kwargs)
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_datasets: list[dict[str, Any]] = [
        dict(name="x1", location=tmp_path / "missing", tier=2),
        dict(name="x2", location=empty, tier=2),
        dict(name="x3", location=dataset_dir, tier=7),
        dict(name="ehr", location=dataset_dir, tier=2),
    ]
    for bad in bad_datasets:
        with pytest.raises(CatalogError), transaction(db) as s:
            service.register_dataset(s, authz, custodian="cedric", profile="default",
                                     description="", actor="grace", clock=clock, **bad)
    with db() as s:
        assert [p.name for p in service.list_projects(s)] == ["proj-a"]
        assert [d.name for d in service.list_datasets(s)] == ["ehr"]
    assert len(_events(db, "project.create")) == before


def test_revoke_and_grant_again(db: sessionmaker[Session], authz: Authz, clock: FixedClock,
                                dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    for _ in range(2):
        with transaction(db) as s:
            service.grant_dataset(s, authz, project="proj-a", dataset="ehr", actor="cedric",
                                  note="", clock=clock)
        with pytest.raises(CatalogError, match="granted to proj-a already"), \
                transaction(db) as s:
            service.grant_dataset(s, authz, project="proj-a", dataset="ehr", actor="cedric",
                                  note="", clock=clock)
        with transaction(db) as s:
            service.revoke_dataset(s, authz, project="proj-a", dataset="ehr", actor="cedric",
                                   reason="study ended", clock=clock)
        with db() as s:
            assert service.granted_datasets(s, "proj-a") == []
    assert len(_events(db, "dataset.grant")) == 2
    assert len(_events(db, "dataset.revoke")) == 2


def test_membership_expires_by_itself(db: sessionmaker[Session], authz: Any,
                                      clock: FixedClock, dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    until = datetime(2026, 7, 1, tzinfo=UTC)
    outcome = add_member(db, project="proj-a", user="alice", role="researcher", until=until,
                         actor="grace", reason="joins the study", clock=clock)
    assert outcome.status == "applied"
    authz.refresh()
    with db() as s:
        assert [p.name for p in service.workspace_projects(s, authz, "alice")] == ["proj-a"]
        assert service.workspace_projects(s, authz, "bob") == []
    (member,) = members(authz.policy.assignments, "proj-a", clock.now())
    assert (member.user, member.role, member.until) == ("alice", "researcher", until)
    (event,) = _events(db, "membership.grant")
    assert event["actor"] == "grace" and event["details"]["reason"] == "joins the study"
    assert event["project"] == "proj-a"
    clock.set(until)  # the membership ends by itself
    with db() as s:
        assert service.workspace_projects(s, authz, "alice") == []
    # extending it replaces the line rather than adding a second one
    clock.set(NOW)
    add_member(db, project="proj-a", user="alice", role="researcher",
               until=datetime(2026, 9, 1, tzinfo=UTC), actor="grace", reason="extended",
               clock=clock)
    authz.refresh()
    assert len(members(authz.policy.assignments, "proj-a", clock.now())) == 1
    remove_member(db, project="proj-a", user="alice", role="researcher", actor="grace",
                  reason="left", clock=clock)
    authz.refresh()
    assert members(authz.policy.assignments, "proj-a", clock.now()) == []
    assert len(_events(db, "membership.revoke")) == 1


def test_membership_refusals(db: sessionmaker[Session], authz: Any, clock: FixedClock,
                             dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    future = datetime(2026, 7, 1, tzinfo=UTC)
    with pytest.raises((Forbidden, GovernanceError), match="cedric may not"):
        add_member(db, project="proj-a", user="alice", role="researcher", until=future,
                   actor="cedric", reason="r", clock=clock)
    with pytest.raises(CatalogError, match="no project"):
        add_member(db, project="nope", user="alice", role="researcher", until=future,
                   actor="grace", reason="r", clock=clock)
    with pytest.raises(GovernanceError, match="must be after"):
        add_member(db, project="proj-a", user="alice", role="researcher", until=NOW,
                   actor="grace", reason="r", clock=clock)
    with pytest.raises(CatalogError, match="no project"):
        remove_member(db, project="nope", user="alice", role="researcher", actor="grace",
                      reason="r", clock=clock)
    assert _events(db, "membership.grant") == []


def test_as_dict_is_json_ready(db: sessionmaker[Session], authz: Authz, clock: FixedClock,
                               dataset_dir: Path) -> None:
    _seed(db, authz, clock, dataset_dir)
    with db() as s:
        rows = [service.as_dict(d) for d in service.list_datasets(s)]
    assert json.loads(service.to_json(rows))[0]["name"] == "ehr"
