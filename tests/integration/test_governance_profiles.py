"""Disclosure profiles versioned like the policy: diff, apply, approve, audit (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from statbarn.errors import ProfileError
from statbarn.profile import load_profile
from tre import audit
from tre.authz.apply import GovernanceError
from tre.authz.profiles import (
    apply_profile,
    approve_profile,
    current_profile,
    profile_at,
    profile_changes,
    read_proposed,
)
from tre.authz.records import ProfileVersion
from tre.authz.settings import PolicySettings
from tre.clock import FixedClock

pytestmark = pytest.mark.integration
DB = sessionmaker[Session]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 1, tzinfo=UTC))


def write(tmp_path: Path, body: str, name: str = "strict.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


STRICT = (Path(__file__).resolve().parents[2] / "policies" / "profiles" / "strict.yaml").read_text()


def strict(version: str, **values: object) -> str:
    """The shipped strict profile as a governance team would edit it: a copy, changed."""
    lines = [ln for ln in STRICT.splitlines() if ln.split(":")[0] not in {"version", *values}]
    return "\n".join([*lines, f"version: '{version}'", *(f"{k}: {v}" for k, v in values.items())])


STRICT_V2 = strict("2", min_count=25, nk_k=0.75)


def apply(db: DB, clock: FixedClock, path: Path, editor: str = "grace", **settings: Any) -> Any:
    return apply_profile(db, path, editor=editor, reason="tighter for tier 3", clock=clock,
                         settings=PolicySettings(**settings))


def profile_events(db: DB) -> list[dict[str, Any]]:
    with db() as s:
        rows = s.scalars(select(audit.AuditEvent).where(audit.AuditEvent.object_type == "profile")
                         .order_by(audit.AuditEvent.seq))
        return [e.as_dict() for e in rows]


def test_apply_stores_the_version_and_audits_the_changes(db: DB, clock: FixedClock,
                                                         tmp_path: Path) -> None:
    outcome = apply(db, clock, write(tmp_path, STRICT_V2))
    assert (outcome.status, outcome.version) == ("applied", "2")
    [event] = profile_events(db)
    assert (event["actor"], event["action"], event["object_id"]) == (
        "grace", "profile.apply", "strict@2")
    details = event["details"]
    assert (details["version_before"], details["version_after"]) == ("1", "2")
    assert details["reason"] == "tighter for tier 3"
    assert {c["key"]: (c["old"], c["new"], c["effect"]) for c in details["changes"]} == {
        "min_count": (20, 25, "stricter"), "nk_k": (0.8, 0.75, "stricter")}
    with db() as s:
        now, origin = current_profile(s, "strict")
        assert now is not None and now.min_count == 25 and origin.startswith("database")
        # an old result stamped "strict, version 1" is explained with version 1's values
        old = profile_at(s, "strict", "1")
        assert old is not None and old.min_count == 20
        assert profile_at(s, "strict", "9") is None
        assert audit.verify(s).ok


def test_applying_the_same_profile_again_changes_nothing(db: DB, clock: FixedClock,
                                                        tmp_path: Path) -> None:
    path = write(tmp_path, STRICT_V2)
    apply(db, clock, path)
    assert apply(db, clock, path).status == "unchanged"
    assert len(profile_events(db)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: strict\nversion: '2'\nextends: default\nmin_count: 0\n",
         ":4: key 'min_count': Input should be greater than or equal to 1"),
        ("name: strict\nversion: '2'\nextends: default\n\nmin_cuont: 12\n",
         ":5: unknown key 'min_cuont'"),
        ("name: strict\nversion: '2'\nextends: nowhere\n", "extends unknown profile 'nowhere'"),
        ("name: strict\nversion: [\n", "not valid YAML"),
    ],
)
def test_bad_profiles_are_refused_naming_file_line_and_problem(
    db: DB, clock: FixedClock, tmp_path: Path, body: str, message: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ProfileError) as info:
        apply(db, clock, path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)
    assert profile_events(db) == []


def test_values_change_only_with_a_new_version(db: DB, clock: FixedClock,
                                               tmp_path: Path) -> None:
    same_version = write(tmp_path, strict("1", min_count=30))
    with pytest.raises(GovernanceError, match="keeps version 1: raise 'version'"):
        apply(db, clock, same_version)
    apply(db, clock, write(tmp_path, STRICT_V2))
    apply(db, clock, write(tmp_path, strict("3", min_count=30)))
    reused = write(tmp_path, strict("2", min_count=40))
    with pytest.raises(GovernanceError, match="version 2 was already applied with other values"):
        apply(db, clock, reused)
    with db() as s:
        assert [r.version for r in s.scalars(select(ProfileVersion).order_by(
            ProfileVersion.id))] == ["2", "3"]


@pytest.mark.parametrize("editor", ["alice", "carol", "olivia"])
def test_only_governance_may_apply_a_profile(db: DB, clock: FixedClock, tmp_path: Path,
                                             editor: str) -> None:
    with pytest.raises(GovernanceError, match=f"{editor} may not edit disclosure profiles"):
        apply(db, clock, write(tmp_path, STRICT_V2), editor=editor)
    assert profile_events(db) == []


def test_second_approval_of_a_profile_never_by_its_editor(db: DB, clock: FixedClock,
                                                          tmp_path: Path) -> None:
    outcome = apply(db, clock, write(tmp_path, STRICT_V2), second_approval=True)
    assert outcome.status == "proposed"
    with db() as s:
        assert current_profile(s, "strict")[0].min_count == 20  # type: ignore[union-attr]
    settings = PolicySettings(second_approval=True)
    with pytest.raises(GovernanceError, match="editor-never-approves-own-edit"):
        approve_profile(db, outcome.proposal, approver="grace", clock=clock, settings=settings)
    done = approve_profile(db, outcome.proposal, approver="heidi", clock=clock,
                           settings=settings)
    assert (done.status, done.version) == ("applied", "2")
    propose, applied = profile_events(db)
    assert (propose["action"], applied["action"], applied["actor"]) == (
        "profile.propose", "profile.apply", "heidi")
    assert applied["details"]["editor"] == "grace"
    with db() as s:
        row = s.scalars(select(ProfileVersion)).one()
    assert (row.editor, row.approved_by) == ("grace", "heidi")


def test_profile_changes_say_stricter_or_looser(tmp_path: Path) -> None:
    old = load_profile("default")
    new, _ = read_proposed(write(tmp_path, "name: default\nversion: '2'\nmin_count: 5\n"
                                           "allow_auto_release: false\np_ratio: 0.2\n",
                                 "default.yaml"))
    assert {c["key"]: c["effect"] for c in profile_changes(old, new)} == {
        "min_count": "looser", "allow_auto_release": "stricter", "p_ratio": "stricter"}
    assert all(c["effect"] == "new" for c in profile_changes(None, new))
