"""The airlock's API end to end on both engines: submit, check, decide, release, download.

The real hub is replaced by DevTokenIdentity (static tokens): the hub itself is
exercised by the workspace and end-to-end tests.  Users come from the demo
policy: alice and bob are researchers in demo-project, carol and dave output
checkers, zoe (added for these tests) a researcher in other-project.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from airlock.db.models import LedgerEntry
from tests import hostile
from tests.harness.airlock import (
    OTHER_PROJECT,
    Api,
    Harness,
    api_env,
    failing_table,
    magnitude_table,
    safe_table,
)
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def audit_ok(h: Harness) -> audit.Verification:
    with transaction(h.ctx.db) as s:
        return audit.verify(s)


def actions(h: Harness) -> list[str]:
    with transaction(h.ctx.db) as s:
        return [e.action for e in audit.iter_events(s)]


def test_health_needs_no_login(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_all_pass_is_approved_released_and_downloadable(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    r = api.submit_table("alice", safe_table(tmp_path))
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "released"
    assert req["decision"]["outcome"] == "approved" and req["decision"]["by"] == "automatic"
    assert r.headers["location"].endswith(req["id"])
    again = api.request("alice", req["id"]).json()  # read back from the database
    assert req["created_at"].endswith("+00:00") and again["created_at"] == req["created_at"]
    (f,) = req["files"]
    assert f["verdict"] == "pass" and f["has_evidence"] and f["kind"] == "csv"
    assert {c["result"]["profile"]["name"] for c in f["checks"]} == {"default"}

    b = api.bundle("alice", req["id"])
    assert b.status_code == 200 and b.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(b.content))
    names = set(z.namelist())
    assert {"files/by_region.csv", "record.json", "results.json", "config.json"} <= names
    assert not any(n.endswith(".statbarn.json") for n in names)  # evidence never leaves
    assert z.read("files/by_region.csv") == (tmp_path / "by_region.csv").read_bytes()
    record = json.loads(z.read("record.json"))
    assert record["satre"].startswith("SATRE 3.3.09")
    assert record["profile"]["name"] == "default" and record["profile"]["version"] == "1"
    assert record["profile"]["params"]["min_count"] == 10
    assert record["tools"]["statbarn"] and record["tools"]["tre"]
    rec_file = record["files"][0]
    assert rec_file["sha256"] == f["sha256"]
    rules = {c["rule"] for c in rec_file["checks"][0]["result"]["checks"]}
    assert {"threshold", "zeros"} <= rules
    acro = json.loads(z.read("results.json"))
    (entry,) = acro["results"].values()
    assert entry["status"] == "pass" and entry["files"][0]["name"] == "files/by_region.csv"
    assert json.loads(z.read("config.json"))["safe_threshold"] == 10
    assert "airlock.release.download" in actions(h)
    assert audit_ok(h).ok


def test_fail_is_rejected_with_a_safe_alternative_resubmitted_in_one_call(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    r = api.submit_table("alice", failing_table(tmp_path))
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "rejected"
    messages = [x["message"] for x in req["decision"]["reasons"]]
    assert any("(Islands, F)" in m and "3 contributor" in m for m in messages)
    alt = req["files"][0]["alternative"]
    assert alt["name"] == "rare.safe.csv" and alt["verdict"] == "pass" and alt["suppressed"] >= 1
    assert api.bundle("alice", req["id"]).status_code == 409  # nothing unapproved leaves

    r = api.post("bob", f"/api/requests/{req['id']}/resubmit-safe-alternative")
    assert r.status_code == 403  # bob may read it (same project), not resubmit alice's files
    r2 = api.post("alice", f"/api/requests/{req['id']}/resubmit-safe-alternative")
    assert r2.status_code == 201, r2.text
    new = r2.json()
    assert new["derived_from"] == req["id"] and new["state"] == "released"
    assert [f["name"] for f in new["files"]] == ["rare.safe.csv"]
    z = zipfile.ZipFile(io.BytesIO(api.bundle("alice", new["id"]).content))
    assert "Islands" in z.read("files/rare.safe.csv").decode()
    # the original stays rejected; resubmitting it twice makes two requests, never a change
    assert api.request("alice", req["id"]).json()["state"] == "rejected"
    assert audit_ok(h).ok


def test_magnitude_table_with_evidence_and_bare_table(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, _ = env
    r = api.submit_table("alice", magnitude_table(tmp_path))
    assert r.status_code == 201 and r.json()["state"] == "released", r.text
    bare = b"region,mean_cost\nNorth,301.5\nSouth,299.1\n"
    r = api.submit("alice", [("means.csv", bare)])
    assert r.status_code == 201
    assert r.json()["state"] == "in_review"  # a magnitude table without evidence escalates
    assert "without evidence" in " ".join(x["message"] for x in r.json()["decision"]["reasons"])


def test_uncheckable_files_escalate(env: tuple[Api, Harness]) -> None:
    api, _ = env
    png = hostile.png_bytes()  # a real image: an undecodable one is refused (no canonical copy)
    r = api.submit("alice", [("plot.png", png), ("notes.md", b"# notes\n")])
    assert r.status_code == 201
    req = r.json()
    assert req["state"] == "in_review"
    assert [f["verdict"] for f in req["files"]] == ["escalate", "escalate"]


def test_other_projects_requests_do_not_exist_for_you(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    rid = api.submit_table("alice", safe_table(tmp_path)).json()["id"]
    for url in (f"/api/requests/{rid}", f"/api/requests/{rid}/bundle",
                f"/api/requests/{rid}/history"):
        r = api.get("zoe", url)
        assert r.status_code == 404, url
        assert r.json() == {"detail": f"no request {rid!r}", "code": "not_found"}
    assert api.post("zoe", f"/api/requests/{rid}/withdraw").status_code == 404
    assert api.get("zoe", "/api/requests/does-not-exist").status_code == 404
    # same project, not the requester: can read, cannot download (own release only)
    assert api.request("bob", rid).status_code == 200
    r = api.bundle("bob", rid)
    assert r.status_code == 403 and "may not download" in r.json()["detail"]
    assert api.get("zoe", "/api/requests").json()["count"] == 0
    assert api.submit("zoe", [("t.md", b"x\n")]).status_code == 403  # not in demo-project
    assert actions(h).count("airlock.access.denied") >= 6
    assert audit_ok(h).ok


def test_unauthenticated(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.client.get("/api/requests")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "token"
    r = api.client.get("/api/requests", headers={"Authorization": "token wrong-token-123"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_tampered_blob_is_never_served(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    req = api.submit_table("alice", safe_table(tmp_path)).json()
    blob = h.ctx.store.path(req["files"][0]["sha256"])
    os.chmod(blob, 0o600)
    blob.write_bytes(blob.read_bytes().replace(b"North", b"Nerth"))
    r = api.bundle("alice", req["id"])
    assert r.status_code == 500 and r.json()["code"] == "integrity"
    assert "no longer matches" in r.json()["detail"]
    acts = actions(h)
    assert "airlock.integrity.refused" in acts and "airlock.release.download" not in acts
    assert list(h.ctx.store.tmp.iterdir()) == []  # the partial bundle is gone
    assert audit_ok(h).ok


def test_withdraw_is_for_researcher_owned_states(env: tuple[Api, Harness]) -> None:
    api, h = env
    draft = api.submit("alice", [("notes.md", b"# notes\n")], extra={"draft": "true"}).json()
    assert draft["state"] == "draft" and draft["files"][0]["verdict"] is None
    assert api.post("bob", f"/api/requests/{draft['id']}/withdraw").status_code == 403
    r = api.post("alice", f"/api/requests/{draft['id']}/withdraw")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    r = api.post("alice", f"/api/requests/{draft['id']}/withdraw")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    in_review = api.submit("alice", [("notes.md", b"# notes\n")]).json()
    before = actions(h)
    r = api.post("alice", f"/api/requests/{in_review['id']}/withdraw")
    assert r.status_code == 409 and "checker" in r.json()["detail"]
    assert api.request("alice", in_review["id"]).json()["state"] == "in_review"
    assert actions(h) == before  # an illegal transition changes nothing, not even the log


def test_draft_then_submit(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    path, side = safe_table(tmp_path)
    draft = api.submit_table("alice", (path, side), extra={"draft": "true"}).json()
    assert draft["state"] == "draft"
    r = api.post("alice", f"/api/requests/{draft['id']}/submit")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "released"
    assert api.post("alice", f"/api/requests/{draft['id']}/submit").status_code == 409


def test_listing_mine_project_and_queue(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    a = api.submit("alice", [("notes.md", b"# a\n")]).json()
    b = api.submit("bob", [("notes.md", b"# b\n")]).json()
    api.submit_table("alice", safe_table(tmp_path))
    mine = api.get("alice", "/api/requests").json()
    assert mine["count"] == 2 and all(r["requester"] == "alice" for r in mine["requests"])
    proj = api.get("alice", "/api/requests?scope=project&project=demo-project").json()
    assert proj["count"] == 3
    queue = api.get("carol", "/api/requests?scope=queue").json()
    assert [r["id"] for r in queue["requests"]] == [a["id"], b["id"]]  # oldest first
    assert all("checks" not in f for r in queue["requests"] for f in r["files"])
    assert api.get("alice", "/api/requests?scope=queue").json()["count"] == 0
    r = api.get("zoe", f"/api/requests?scope=project&project={OTHER_PROJECT}")
    assert r.status_code == 200 and r.json()["count"] == 0
    assert api.get("zoe", "/api/requests?scope=project&project=demo-project").status_code == 403


def test_ledger_remembers_released_tables_and_flags_differencing(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    """Two releases that differ by one small subgroup: the second escalates, naming the first."""
    import statbarn as sb
    from tests.harness.airlock import patients

    api, h = env
    df = patients()
    first = sb.crosstab(df.region, df.sex)
    first.save(tmp_path / "all.csv")
    r1 = api.submit_table("alice", (tmp_path / "all.csv", tmp_path / "all.csv.statbarn.json"))
    assert r1.json()["state"] == "released"
    release_id = r1.json()["release"]["id"]
    # the same table without four people of one region and sex: nested populations
    drop = df[(df.region == "North") & (df.sex == "F")].index[:4]
    second = sb.crosstab(df.drop(drop).region, df.drop(drop).sex)
    assert second.verdict == "pass"
    second.save(tmp_path / "fewer.csv")
    r2 = api.submit_table("alice", (tmp_path / "fewer.csv",
                                    tmp_path / "fewer.csv.statbarn.json"))
    req = r2.json()
    assert req["state"] == "in_review", req["decision"]
    checks = req["files"][0]["checks"][0]["result"]["checks"]
    diff = next(c for c in checks if c["rule"] == "differencing")
    assert diff["verdict"] == "escalate" and release_id in diff["summary"]
    with transaction(h.ctx.db) as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1
