"""Human review through the API: votes, quorum, blindness, overrides, own requests,
and two reviewers voting at the same moment on real concurrent connections."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from airlock.db.models import Vote
from airlock.service import voting
from tests import hostile
from tests.harness.airlock import Api, Harness, api_env, failing_table, safe_table
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    """demo-project under the strict profile: two reviewers, no automatic release."""
    with api_env(db_url, tmp_path / "data", project_profiles={"demo-project": "strict"}) as env:
        yield env


def events(h: Harness) -> list[audit.AuditEvent]:
    with transaction(h.ctx.db) as s:
        assert audit.verify(s).ok
        return list(audit.iter_events(s))


def escalated(api: Api, user: str = "alice") -> dict:  # type: ignore[type-arg]
    r = api.submit(user, [("plot.png", hostile.png_bytes())])
    assert r.status_code == 201 and r.json()["state"] == "in_review"
    return r.json()  # type: ignore[no-any-return]


def test_one_approval_releases(env: tuple[Api, Harness]) -> None:
    api, h = env
    req = escalated(api)
    fid = req["files"][0]["id"]
    r = api.vote("carol", req["id"], fid, "approve")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == "released" and out["decision"]["by"] == "review"
    assert out["review"]["quorum_reached"] and out["review"]["voters"] == ["carol"]
    z = zipfile.ZipFile(io.BytesIO(api.bundle("alice", req["id"]).content))
    record = json.loads(z.read("record.json"))
    assert record["reviews"][0]["reviewer"] == "carol"
    assert record["reviews"][0]["choice"] == "approve"
    moves = [(e.details, e.actor) for e in events(h) if e.action == "airlock.request.transition"]
    assert any('"to":"approved"' in d and a == "carol" for d, a in moves)
    assert any('"to":"released"' in d and a == "system" for d, a in moves)
    assert api.vote("dave", req["id"], fid, "approve").status_code == 409  # decided


def test_who_may_vote(env: tuple[Api, Harness]) -> None:
    api, h = env
    def fid_of(req: dict[str, Any]) -> str:
        return str(req["files"][0]["id"])

    req = escalated(api)
    r = api.vote("alice", req["id"], fid_of(req), "approve")  # a researcher, not a checker
    assert r.status_code == 403
    r = api.vote("olivia", req["id"], fid_of(req), "approve")  # an operator sees no requests
    assert r.status_code == 404
    own = escalated(api, "carol")  # carol is also a researcher: her own request
    r = api.vote("carol", own["id"], fid_of(own), "approve")
    assert r.status_code == 403
    denied = [e for e in events(h) if e.action == "airlock.access.denied"]
    assert any("requester-never-reviews-own-request" in e.details for e in denied)
    r = api.vote("dave", own["id"], fid_of(own), "approve")
    assert r.status_code == 200 and r.json()["state"] == "released"


def test_comment_required_and_request_changes_returns(env: tuple[Api, Harness]) -> None:
    api, _ = env
    req = escalated(api)
    fid = req["files"][0]["id"]
    r = api.vote("carol", req["id"], fid, "request_changes")
    assert r.status_code == 422 and "needs a comment" in r.json()["detail"]
    r = api.vote("carol", req["id"], fid, "reject", comment="   ")
    assert r.status_code == 422
    r = api.vote("carol", req["id"], fid, "request_changes", comment="Label the axes, please.")
    assert r.status_code == 200 and r.json()["state"] == "returned"
    seen = api.request("alice", req["id"]).json()["review"]["votes"]
    assert seen[0]["comment"] == "Label the axes, please." and not seen[0]["blind"]
    assert api.bundle("alice", req["id"]).status_code == 409
    r = api.post("alice", f"/api/requests/{req['id']}/withdraw")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"


def test_malformed_or_misspelt_votes_are_refused_and_change_nothing(
        env: tuple[Api, Harness]) -> None:
    api, h = env
    req = escalated(api)
    fid = req["files"][0]["id"]
    before = len(events(h))
    url = f"/api/requests/{req['id']}/votes"
    r = api.post("carol", url, content=b'{"votes": [{bad', headers={
        "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("the body is not valid JSON (at character 12: ")
    r = api.post("carol", url, json={"votes": [{"file_id": fid, "choice": "reject",
                                                "coment": "Too small."}]})
    assert r.status_code == 422 and r.json()["detail"].startswith("votes.0.coment: Extra")
    r = api.post("carol", url, json={"votes": [], "force": True})
    assert r.status_code == 422 and "force: Extra" in r.json()["detail"]
    assert len(events(h)) == before
    assert api.request("carol", req["id"]).json()["state"] == "in_review"


def test_override_of_an_automated_fail_needs_a_reason_and_is_flagged(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    r = api.submit_table("alice", (path, side), manifest=[{
        "name": path.name, "exception": "Islands F is a structural count published by ONS"}])
    req = r.json()
    assert req["state"] == "in_review" and req["files"][0]["verdict"] == "fail"
    fid = req["files"][0]["id"]
    r = api.vote("carol", req["id"], fid, "approve")
    assert r.status_code == 422 and "override reason" in r.json()["detail"]
    r = api.vote("carol", req["id"], fid, "approve", override_reason="Public ONS figure.")
    assert r.status_code == 200 and r.json()["state"] == "released"
    assert r.json()["decision"]["overrides"][0]["reason"] == "Public ONS figure."
    flagged = [e for e in events(h) if e.action == "airlock.vote.override"]
    assert len(flagged) == 1 and '"override":true' in flagged[0].details


def test_returned_request_resubmits_its_safe_alternative(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, _ = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "exception": "please look"}]).json()
    fid = req["files"][0]["id"]
    api.vote("carol", req["id"], fid, "request_changes", comment="Use the suppressed table.")
    r = api.post("alice", f"/api/requests/{req['id']}/resubmit-safe-alternative")
    assert r.status_code == 201 and r.json()["state"] == "released"
    assert api.request("alice", req["id"]).json()["state"] == "withdrawn"
    r = api.post("alice", f"/api/requests/{req['id']}/resubmit-safe-alternative")
    assert r.status_code == 409


def test_two_reviewers_blind_until_quorum(strict: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = strict
    req = api.submit_table("alice", safe_table(tmp_path)).json()
    assert req["state"] == "in_review" and req["profile"]["reviewers_required"] == 2
    assert "does not allow automatic release" in req["decision"]["reasons"][0]["message"]
    fid = req["files"][0]["id"]
    r = api.vote("carol", req["id"], fid, "approve")
    assert r.json()["state"] == "in_review" and not r.json()["review"]["quorum_reached"]
    for viewer in ("dave", "alice"):
        (v,) = api.request(viewer, req["id"]).json()["review"]["votes"]
        assert v["reviewer"] == "carol" and v["blind"] and v["choice"] is None
    (own,) = api.request("carol", req["id"]).json()["review"]["votes"]
    assert own["own"] and own["choice"] == "approve"
    # The audit trail is blind too: nobody but carol learns her vote before the quorum.
    for viewer in ("dave", "alice"):
        trail = api.get(viewer, f"/api/requests/{req['id']}/history").json()["events"]
        (cast,) = [e for e in trail if e["action"].startswith("airlock.vote")]
        assert cast["actor"] == "carol" and cast["details"]["blind"]
        assert "choice" not in cast["details"] and "comment" not in cast["details"]
    trail = api.get("carol", f"/api/requests/{req['id']}/history").json()["events"]
    assert [e["details"]["choice"] for e in trail if e["action"] == "airlock.vote.cast"] == [
        "approve"]
    r = api.vote("carol", req["id"], fid, "approve")
    assert r.status_code == 409 and "already voted" in r.json()["detail"]
    r = api.vote("dave", req["id"], fid, "reject", comment="Too fine a breakdown.")
    out = r.json()
    assert out["state"] == "rejected" and out["review"]["quorum_reached"]
    assert {v["choice"] for v in out["review"]["votes"]} == {"approve", "reject"}
    trail = api.get("alice", f"/api/requests/{req['id']}/history").json()["events"]
    assert sorted(e["details"]["choice"] for e in trail if e["action"] == "airlock.vote.cast") == [
        "approve", "reject"]


@pytest.mark.parametrize("attempt", range(3))
def test_simultaneous_votes_make_one_state_change(
    strict: tuple[Api, Harness], tmp_path: Path, attempt: int
) -> None:
    """Two checkers vote at the same moment on separate connections: both votes are
    kept, the request changes state exactly once, the audit chain verifies."""
    api, h = strict
    req = api.submit("alice", [(f"n{attempt}.md", b"# notes\n")]).json()
    fid = req["files"][0]["id"]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def vote(user: str) -> None:
        try:
            barrier.wait()
            voting.cast(h.ctx, user, req["id"], [voting.Ballot(fid, "approve")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=vote, args=(u,)) for u in ("carol", "dave")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with h.ctx.db() as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == 2
    evs = events(h)
    moves = [e for e in evs if e.action == "airlock.request.transition"
             and e.object_id == req["id"] and '"from":"in_review"' in e.details]
    assert len(moves) == 1 and '"to":"approved"' in moves[0].details
    assert api.request("alice", req["id"]).json()["state"] == "released"
