"""Blind votes stay blind in the audit trail: sealed with a commitment before the quorum,
revealed by it (issue 13: the override leak and the brute-force recovery)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.domain import sealing
from tests.harness.airlock import Api, Harness, api_env, failing_table
from tests.hostile import png_bytes
from tre import audit, merkle

pytestmark = pytest.mark.integration
CHOICES = ("approve", "reject", "request_changes")


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    """Two reviewers needed; carol and dave both hold the override permission."""
    with api_env(db_url, tmp_path / "data", project_profiles={"demo-project": "strict"}) as env:
        yield env


def in_review(api: Api, tmp_path: Path) -> tuple[str, str]:
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "exception": "Islands F is a structural count published by ONS"}]
    ).json()
    assert req["state"] == "in_review" and req["files"][0]["verdict"] == "fail"
    return req["id"], req["files"][0]["id"]


def vote_events(api: Api, viewer: str, rid: str) -> list[dict[str, Any]]:
    trail = api.get(viewer, f"/api/requests/{rid}/history").json()["events"]
    return [e for e in trail if e["action"].startswith("airlock.vote")]


def candidates(event: dict[str, Any], choice: str) -> list[dict[str, Any]]:
    """What the hidden details would be if the vote were ``choice`` without a comment:
    the guesses an observer tries against the event's hash."""
    base = {k: v for k, v in event["details"].items() if k != "blind"}
    guesses = []
    for override in (False, True):
        guesses.append({**base, "choice": choice, "comment": None, "override": override,
                        "override_reason": None})
    return guesses


def hash_matches(event: dict[str, Any], details: dict[str, Any]) -> bool:
    """Does the guess give the event's published hash, by the old chain's formula (with
    its published prev_hash) or by the leaf hash?"""
    text = audit.canonical(details)
    fields = [event["seq"], event["at"], event["actor"], event["action"],
              event["object_type"], event["object_id"], event["project"], text]
    leaf = merkle.leaf_hash(audit.canonical(fields).encode()).hex()
    old = hashlib.sha256(f"{event.get('prev_hash')}\n{audit.canonical(fields)}".encode())
    return event.get("hash") in (leaf, old.hexdigest())


def test_an_override_is_not_visible_before_the_quorum(strict: tuple[Api, Harness],
                                                      tmp_path: Path) -> None:
    """Carol overrides a failing file, Dave rejects another request's: before the quorum
    the two events have the same shape, and neither says "override" anywhere."""
    api, _ = strict
    a_rid, a_fid = in_review(api, tmp_path / "a")
    b_rid, b_fid = in_review(api, tmp_path / "b")
    assert api.vote("carol", a_rid, a_fid, "approve",
                    override_reason="Public ONS figure.").status_code == 200
    assert api.vote("dave", b_rid, b_fid, "reject", comment="Too small.").status_code == 200
    (overriding,) = vote_events(api, "alice", a_rid)
    (rejecting,) = vote_events(api, "alice", b_rid)
    for e in (overriding, rejecting):
        assert e["action"] == "airlock.vote.cast" and e["details"]["blind"]
        assert "override" not in json.dumps(e), e
        assert "approve" not in json.dumps(e) and "reject" not in json.dumps(e)
    assert set(overriding["details"]) == set(rejecting["details"])
    assert [d["action"] for d in overriding["details"]["authz"]] == ["review"]


def test_the_hidden_choice_cannot_be_recovered_from_the_hash(strict: tuple[Api, Harness],
                                                             tmp_path: Path) -> None:
    """An approve without comment was recovered every time by trying the three choices."""
    api, _ = strict
    req = api.submit("alice", [("plot.png", png_bytes())]).json()
    rid, fid = req["id"], req["files"][0]["id"]
    assert req["state"] == "in_review" and req["files"][0]["verdict"] == "escalate"
    assert api.vote("carol", rid, fid, "approve").status_code == 200
    (event,) = vote_events(api, "dave", rid)
    assert event["details"]["blind"]
    for choice in CHOICES:
        for guess in candidates(event, choice):
            assert not hash_matches(event, guess), f"{choice} recovered from the hash"
            commitment = event["details"].get("commitment")
            assert commitment is None or not sealing.opens(commitment, "00" * 32, guess)


def test_the_quorum_reveals_every_vote_and_the_commitments_open(
        strict: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = strict
    rid, fid = in_review(api, tmp_path)
    api.vote("carol", rid, fid, "approve", override_reason="Public ONS figure.")
    (own,) = vote_events(api, "carol", rid)  # the voter sees her own vote, opened
    assert own["details"]["opened"] and own["details"]["choice"] == "approve"
    assert own["details"]["override"] is True
    r = api.vote("dave", rid, fid, "reject", comment="Too fine a breakdown.")
    assert r.json()["state"] == "rejected" and r.json()["review"]["quorum_reached"]
    events = vote_events(api, "alice", rid)
    cast = {e["actor"]: e for e in events if e["action"] == "airlock.vote.cast"}
    revealed = {e["actor"]: e for e in events if e["action"] != "airlock.vote.cast"}
    assert revealed["carol"]["action"] == "airlock.vote.override"  # still stands out
    assert revealed["dave"]["action"] == "airlock.vote.reveal"
    for who, choice in (("carol", "approve"), ("dave", "reject")):
        d = revealed[who]["details"]
        assert d["choice"] == choice and cast[who]["details"]["choice"] == choice
        opened = sealing.opening(d["choice"], d["comment"], d["override"],
                                 d["override_reason"], d["authz"])
        assert sealing.opens(cast[who]["details"]["commitment"], d["nonce"], opened)
        assert not sealing.opens(cast[who]["details"]["commitment"], d["nonce"],
                                 {**opened, "choice": "request_changes"})
    assert [a["action"] for a in revealed["carol"]["details"]["authz"]] == ["override"]
    assert revealed["dave"]["details"]["comment"] == "Too fine a breakdown."
    with audit_session(h) as s:
        assert audit.verify(s).ok


def audit_session(h: Harness) -> Any:
    from tre.db import transaction

    return transaction(h.ctx.db)
