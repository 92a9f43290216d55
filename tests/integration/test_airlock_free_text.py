"""Free text is data leaving the TRE (issue 10): every free-text field is bounded and
scanned, and what a request holds is readable from outside only once a checker has
reviewed it (and not refused it).  The API test client calls from a workspace network
(inside); ``outside`` is a client on the same app with no workspace address, as a laptop
or the hub's proxy would be."""

from __future__ import annotations

import base64
import random
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.airlock import Api, Harness, api_env, failing_table, safe_table

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration
NHS = "9434765919"  # the NHS's example number: a valid check digit
CSV = b"region,count\nNorth,120\nSouth,140\n"
CONTEXT = "Counts of patients by region, from the cohort extract of March 2026."


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as (inside, h), TestClient(h.app) as client:
        yield inside, Api(client), h


def base64_text(chars: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    return base64.b64encode(bytes(rng.randrange(256) for _ in range(chars * 3 // 4))).decode()


def test_who_calls_from_where(env: tuple[Api, Api, Harness]) -> None:
    inside, outside, _ = env
    assert inside.get("alice", "/api/me").json()["origin"] == "workspace"
    assert outside.get("alice", "/api/me").json()["origin"] == "outside"
    # a forwarded-for header is written by the caller: it never makes a call inside
    forged = outside.get("alice", "/api/me", headers={"X-Forwarded-For": "172.30.0.9",
                                                      "X-Real-IP": "172.30.0.9"})
    assert forged.json()["origin"] == "outside"
    # and one that came through a proxy (or says so) is not straight from a workspace
    proxied = inside.get("alice", "/api/me", headers={"X-Forwarded-For": "10.1.2.3"})
    assert proxied.json()["origin"] == "outside"
    assert inside.get("alice", "/api/me", headers={"Forwarded": "for=10.1.2.3"}
                      ).json()["origin"] == "outside"


def test_a_drafts_content_is_readable_inside_and_not_outside(env: tuple[Api, Api, Harness]
                                                             ) -> None:
    inside, outside, _ = env
    draft = inside.submit("alice", [("by_region.csv", CSV)], context=CONTEXT,
                          extra={"draft": "true"}).json()
    assert draft["state"] == "draft" and draft["files"][0]["context"] == CONTEXT
    rid = draft["id"]
    seen = inside.request("alice", rid).json()
    assert seen["files"][0]["name"] == "by_region.csv" and seen["files"][0]["context"] == CONTEXT
    for url in (f"/api/requests/{rid}", "/api/requests", f"/api/requests/{rid}/history"):
        r = outside.get("alice", url)
        assert r.status_code == 200, r.text
        assert CONTEXT not in r.text and "by_region.csv" not in r.text, url
    hidden = outside.request("alice", rid).json()
    assert hidden["state"] == "draft" and hidden["files"] == [] and hidden["file_count"] == 1
    assert "shown only inside the workspace that wrote it" in hidden["content_hidden"]
    # a colleague in the project, even from a workspace, is not the workspace that wrote it
    assert CONTEXT not in inside.request("bob", rid).text


def test_a_20000_character_base64_context_is_refused_with_a_sentence(
        env: tuple[Api, Api, Harness]) -> None:
    inside, _, _ = env
    blob = base64_text(20_000)
    assert len(blob) == 20_000
    r = inside.submit("alice", [("by_region.csv", CSV)], context=blob)
    assert r.status_code == 422 and r.json()["code"] == "text_too_long"
    assert r.json()["detail"].startswith(
        "the request's context is 20,000 characters long, more than the limit of 4,000")
    # under the limit, the scan refuses it: encoded data, its line named
    r = inside.submit("alice", [("by_region.csv", CSV)], context="see: " + base64_text(3_000))
    assert r.status_code == 422 and r.json()["code"] == "text_refused"
    assert "line 1: " in r.json()["detail"] and "base64 or hex" in r.json()["detail"]
    assert inside.get("alice", "/api/requests").json()["count"] == 0  # nothing stored


@pytest.mark.parametrize(("field", "what"), [
    ("context", "the request's context"),
    ("manifest-context", "the context of by_region.csv"),
    ("exception", "the exception request of by_region.csv"),
    ("population", "the population of by_region.csv"),
])
def test_identifiers_and_rows_are_refused_in_every_field(env: tuple[Api, Api, Harness],
                                                         field: str, what: str) -> None:
    inside, _, _ = env
    rows = "\n".join(f"{NHS[:-1]}{i}, Ann Smith, 1970-03-0{i % 9 + 1}, SW1A 1AA"
                     for i in range(10))
    value = rows if field != "population" else f"patients such as {NHS}"
    manifest = None
    kw: dict[str, object] = {}
    if field == "context":
        kw["context"] = value
    else:
        key = field.removeprefix("manifest-")
        manifest = [{"name": "by_region.csv", key: value}]
    r = inside.submit("alice", [("by_region.csv", CSV)], manifest=manifest, **kw)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith(f"{what} cannot be accepted: line 1: ")
    assert NHS not in detail and "Ann Smith" not in detail and "SW1A" not in detail


def test_a_file_name_holding_an_identifier_is_refused(env: tuple[Api, Api, Harness]) -> None:
    inside, _, _ = env
    r = inside.submit("alice", [("ok.csv", CSV), (f"patient_{NHS}.csv", CSV)])
    assert r.status_code == 422 and r.json()["code"] == "text_refused"
    assert r.json()["detail"].startswith("the name of file 2 cannot be accepted: line 1: an NHS")
    assert NHS not in r.json()["detail"]


def test_person_rows_in_a_rejected_requests_context_are_not_readable_from_outside(
        env: tuple[Api, Api, Harness], tmp_path: Path) -> None:
    inside, outside, _ = env
    # four short records, under what the scan calls rows (five lines): the scan cannot
    # catch everything, so what it misses must still not be readable outside
    people = "Ann, 34, F, diabetic\nBob, 51, M, asthma\nCy, 29, F, epilepsy\nDi, 77, F, COPD"
    path, side = failing_table(tmp_path)
    rejected = inside.submit_table("alice", (path, side), context=people).json()
    assert rejected["state"] == "rejected"
    rid = rejected["id"]
    assert inside.request("alice", rid).json()["files"][0]["context"] == people
    for url in (f"/api/requests/{rid}", "/api/requests", f"/api/requests/{rid}/history"):
        text = outside.get("alice", url).text
        assert "diabetic" not in text and "Islands" not in text, url  # context, cell labels
    view = outside.request("alice", rid).json()
    assert view["decision"] == {"outcome": "rejected", "by": "automatic"}
    assert view["files"] == []


def test_reviewers_see_what_they_review_and_everyone_what_was_released(
        env: tuple[Api, Api, Harness], tmp_path: Path) -> None:
    inside, outside, _ = env
    path, side = failing_table(tmp_path)
    review = inside.submit_table("alice", (path, side), context=CONTEXT, manifest=[
        {"name": path.name, "exception": "the small cells are islands, published already"}
    ]).json()
    assert review["state"] == "in_review"
    # a checker reviews from her browser, outside: reviewing it is her job
    assert outside.request("carol", review["id"]).json()["files"][0]["context"] == CONTEXT
    assert outside.request("alice", review["id"]).json()["files"] == []
    released = inside.submit_table("alice", safe_table(tmp_path), context=CONTEXT).json()
    assert released["state"] == "released"
    assert outside.request("alice", released["id"]).json()["files"][0]["context"] == CONTEXT


def test_vote_comments_are_bounded_and_scanned(env: tuple[Api, Api, Harness],
                                               tmp_path: Path) -> None:
    inside, outside, _ = env
    path, side = failing_table(tmp_path)
    req = inside.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "exception": "please look"}]).json()
    fid = req["files"][0]["id"]
    r = outside.vote("carol", req["id"], fid, "reject", comment=f"row 3 is patient {NHS}")
    assert r.status_code == 422 and r.json()["code"] == "text_refused"
    assert r.json()["detail"].startswith(f"the comment on file {fid} cannot be accepted: line 1")
    r = outside.vote("carol", req["id"], fid, "reject", comment="x " * 2_500)
    assert r.status_code == 422 and r.json()["code"] == "text_too_long"
    assert outside.vote("carol", req["id"], fid, "reject",
                        comment="the small cells identify people").status_code == 200
