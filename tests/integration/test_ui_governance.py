"""The governance page's policy edit: effective permissions, expiries, preview, apply
(both engines, the policy stored in the database as in production)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from airlock.identity import DevTokenIdentity
from tests.harness.airlock import TOKENS, Harness, airlock_app
from tests.harness.pages import Pages, TestClient
from tre import audit
from tre.clock import FixedClock

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 15, tzinfo=UTC)  # erin's membership ends 2027-01-01
GRANT = "g, frank, researcher, demo-project, 2025-01-01, 2099-01-01\n"


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    with airlock_app(db_url, tmp_path / "data", clock=FixedClock(NOW),
                     stored_policy=True) as harness, TestClient(harness.app):
        yield harness


def policy_text(h: Harness) -> str:
    policy = h.ctx.authz.policy
    return policy.text or policy.to_csv()


def test_page_shows_effective_permissions_and_expiries(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    r = grace.get("/governance")
    assert r.status_code == 200
    assert 'id="perms-by-user"' in r.text and 'id="perms-by-project"' in r.text
    assert "spawn workspace" in r.text
    expiries = r.text.split('id="expiries"')[1].split("</table>")[0]
    assert "erin" in expiries and "2027-01-01" in expiries and "alice" not in expiries
    assert 'href="/governance/edit"' in r.text
    edit = grace.get("/governance/edit")
    assert edit.status_code == 200
    assert "g, grace, governance, *" in edit.text  # prefilled with the policy in force


def test_non_governance_users_get_403(h: Harness) -> None:
    for name in ("alice", "carol", "olivia"):
        user = Pages(h.app, name)
        assert user.get("/governance/edit").status_code == 403
        text = policy_text(h) + GRANT
        assert user.post("/governance/preview", {"policy": text}).status_code == 403
        r = user.post("/governance/apply", {"policy": text, "reason": "mine"})
        assert r.status_code == 403
    assert "edit-policy" not in Pages(h.app, "olivia").get("/governance").text
    assert not h.ctx.authz.user_can("frank", "demo-project", "workspace", "spawn")


def test_csrf_required(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    r = grace.post("/governance/apply", {"policy": policy_text(h) + GRANT, "reason": "x"},
                   csrf=False)
    assert r.status_code == 403


def test_preview_shows_a_gained_permission_and_changes_nothing(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    grace.get("/governance/edit")
    version = h.ctx.authz.version
    r = grace.post("/governance/preview", {"policy": policy_text(h) + GRANT})
    assert r.status_code == 200, r.text
    diff = r.text.split('id="diff"')[1].split("</table>")[0]
    assert '<tr class="gained"><td>gained</td><td>frank</td><td>demo-project</td>' \
           '<td>spawn workspace</td>' in diff
    assert "frank as researcher in demo-project" in r.text
    assert 'id="tables-ok"' in r.text
    assert h.ctx.authz.version == version
    assert not h.ctx.authz.user_can("frank", "demo-project", "workspace", "spawn")


def test_apply_with_a_reason_changes_the_policy_and_is_audited(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    grace.get("/governance/edit")
    before = h.ctx.authz.version
    assert before is not None
    text = policy_text(h).replace("\n", "\r\n") + GRANT  # as a browser posts a textarea
    r = grace.post("/governance/apply", {"policy": text, "reason": "frank joins <b>the</b> team"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/governance?applied={before + 1}"
    assert h.ctx.authz.version == before + 1
    assert h.ctx.authz.user_can("frank", "demo-project", "workspace", "spawn")
    with h.ctx.db() as s:
        event = s.scalars(select(audit.AuditEvent).where(
            audit.AuditEvent.action == "policy.apply")).one()
    details = json.loads(event.details)
    assert event.actor == "grace" and details["editor"] == "grace"
    assert details["reason"] == "frank joins <b>the</b> team"
    assert {"user": "frank", "domain": "demo-project", "obj": "workspace",
            "action": "spawn"} in details["diff"]["gained"]
    page = grace.get(r.headers["location"])
    assert f"Policy version {before + 1} is in force" in page.text


def test_malformed_proposal_names_the_line_and_changes_nothing(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    grace.get("/governance/edit")
    before = h.ctx.authz.version
    lines = policy_text(h).splitlines()
    bad = "\n".join([*lines, "g, frank, researcher, demo-project, 2025-13-45, 2099-01-01",
                     "g, fred, <script>x</script>, demo-project, 2025-01-01, 2099-01-01"])
    bad_date, bad_role = len(lines) + 1, len(lines) + 2
    r = grace.post("/governance/apply", {"policy": bad, "reason": "typo"})
    assert r.status_code == 422
    refusal = r.text.split('id="refusal"')[1].split("</div>")[0]
    assert f"line {bad_date}:" in refusal and f"line {bad_role}:" in refusal
    assert "<script>x" not in r.text and "&lt;script&gt;x" in r.text
    p = grace.post("/governance/preview", {"policy": bad})
    assert p.status_code == 200 and f"line {bad_date}: error:" in p.text
    assert 'id="preview-errors"' in p.text
    assert h.ctx.authz.version == before
    with h.ctx.db() as s:
        assert s.scalars(select(audit.AuditEvent).where(
            audit.AuditEvent.action == "policy.apply")).all() == []


def test_failing_truth_table_is_refused(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    grace.get("/governance/edit")
    before = h.ctx.authz.version
    text = policy_text(h).replace("p, researcher, *, workspace, spawn, allow\n", "")
    p = grace.post("/governance/preview", {"policy": text})
    assert 'id="table-failures"' in p.text
    r = grace.post("/governance/apply", {"policy": text, "reason": "oops"})
    assert r.status_code == 422 and "truth-table" in r.text
    assert h.ctx.authz.version == before


def test_missing_reason_refused(h: Harness) -> None:
    grace = Pages(h.app, "grace")
    grace.get("/governance/edit")
    before = h.ctx.authz.version
    r = grace.post("/governance/apply", {"policy": policy_text(h) + GRANT, "reason": "  "})
    assert r.status_code == 422 and "A reason is required" in r.text
    assert GRANT.strip() in r.text  # what was typed is kept
    assert h.ctx.authz.version == before
    assert not h.ctx.authz.user_can("frank", "demo-project", "workspace", "spawn")


def test_second_approval_by_another_governance_user(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_POLICY_SECOND_APPROVAL", "true")
    # heidi, the demo policy's second governance user, gets a development token too
    h.app.state.identity = DevTokenIdentity({**TOKENS, "heidi-dev-token": "heidi"},
                                            "development")
    grace, heidi = Pages(h.app, "grace"), Pages(h.app, "heidi")
    grace.get("/governance/edit")
    before = h.ctx.authz.version
    r = grace.post("/governance/apply", {"policy": policy_text(h) + GRANT, "reason": "frank"})
    assert r.status_code == 303 and "proposed=" in r.headers["location"]
    proposal = r.headers["location"].split("=")[1]
    assert h.ctx.authz.version == before
    page = grace.get(r.headers["location"])
    assert "waits for a second governance user" in page.text
    assert "your own edit" in page.text
    assert grace.post(f"/governance/proposals/{proposal}/approve").status_code == 409
    heidi.get("/governance")
    r = heidi.post(f"/governance/proposals/{proposal}/approve")
    assert r.status_code == 303, r.text
    assert h.ctx.authz.user_can("frank", "demo-project", "workspace", "spawn")
