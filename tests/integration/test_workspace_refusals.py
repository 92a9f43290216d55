"""The airlock records a workspace's refusals (tre.workspace.jupyter posts them) in the
audit log, under the caller's own identity, bounded and rate-limited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.api.workspace_events import PER_MINUTE, _Window
from tests.harness.airlock import Api, Harness, api_env
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration
URL = "/api/workspace/refusals"
BODY = {"project": "demo-project", "path": "data/ehr/person.parquet", "route": "files",
        "reason": "dataset"}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def events(h: Harness, action: str) -> list[dict[str, object]]:
    with transaction(h.ctx.db) as s:
        return [e.as_dict() for e in audit.iter_events(s) if e.action == action]


def test_a_refusal_is_recorded_under_the_callers_identity(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.post("alice", URL, json=BODY)
    assert r.status_code == 201, r.text
    [event] = events(h, "workspace.refusal")
    assert event["actor"] == "alice" and event["project"] == "demo-project"
    assert event["object_id"] == "data/ehr/person.parquet"
    assert event["details"] == {"route": "files", "reason": "dataset",
                                "workspace": "alice/demo-project"}


def test_a_project_the_caller_does_not_work_in_is_refused(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.post("zoe", URL, json=BODY)  # zoe works in other-project only
    assert r.status_code == 403, r.text
    assert not events(h, "workspace.refusal")
    assert [e["actor"] for e in events(h, "airlock.access.denied")] == ["zoe"]


def test_unknown_and_unbounded_fields_are_refused_in_words(env: tuple[Api, Harness]) -> None:
    api, h = env
    for body in ({**BODY, "actor": "bob"}, {**BODY, "path": "x" * 1001},
                 {**BODY, "reason": "because"}, {**BODY, "project": ""}):
        r = api.post("alice", URL, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "invalid" and r.json()["detail"]
    r = api.post("alice", URL, content=b"{not json", headers={"content-type":
                                                               "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    assert not events(h, "workspace.refusal")
    anonymous = api.client.post(URL, content=json.dumps(BODY))
    assert anonymous.status_code == 401


def test_a_flood_is_cut_off_and_itself_recorded(env: tuple[Api, Harness]) -> None:
    api, h = env
    h.app.state.workspace_refusals = _Window(now=lambda: 120.0)  # one minute throughout
    codes = [api.post("alice", URL, json=BODY).status_code for _ in range(PER_MINUTE + 5)]
    assert codes == [201] * PER_MINUTE + [429] * 5
    assert len(events(h, "workspace.refusal")) == PER_MINUTE
    assert len(events(h, "workspace.refusal.flood")) == 1
    assert api.post("bob", URL, json=BODY).status_code == 201  # counted per user
