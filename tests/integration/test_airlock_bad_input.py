"""Bad input at the API: each a clear 4xx with a message, and nothing stored half."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from airlock.db.models import Request
from tests.harness.airlock import (
    PROJECT,
    WORKSPACE_ADDRESS,
    Api,
    Harness,
    airlock_app,
    auth,
    failing_table,
    safe_table,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx is what we ship
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration
BOUNDARY = "b0und4ry"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data", max_file_bytes=50_000,
                     max_request_bytes=80_000) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def nothing_stored(h: Harness) -> None:
    with h.ctx.db() as s:
        assert s.scalar(select(func.count()).select_from(Request)) == 0
    assert list(h.ctx.store.all_blobs()) == []
    assert list(h.ctx.store.tmp.iterdir()) == []


def raw(api: Api, body: bytes, user: str = "alice") -> object:
    return api.client.post("/api/requests", content=body, headers={
        **auth(user), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def part(name: str, body: bytes, filename: bytes | None = None) -> bytes:
    disp = b'form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disp += b'; filename="' + filename + b'"'
    return b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: " + disp + b"\r\n\r\n" + \
        body + b"\r\n"


def end() -> bytes:
    return b"--" + BOUNDARY.encode() + b"--\r\n"


def fields() -> bytes:
    return part("project", PROJECT.encode()) + part("context", b"what and how")


CSV = b"region,F,M\nNorth,25,31\nSouth,40,18\n"


@pytest.mark.parametrize(("filename", "status", "text"), [
    (b"../../etc/passwd", 400, "contains a path"),
    (b"/etc/cron.d/x.csv", 400, "contains a path"),
    (b"..\\..\\x.csv", 400, "contains a path"),
    (b"a\x00b.csv", 400, "control character"),
    (b"x" * 300 + b".csv", 400, "too long"),
    ("r\u00e9sum\u00e9\u202etxt.exe".encode(), 400, "invisible"),
    (b"evil\xc0\xaf.csv", 400, "not UTF-8"),
    (b"", 400, "empty name"),
])
def test_bad_file_names(env: tuple[Api, Harness], filename: bytes, status: int,
                        text: str) -> None:
    api, h = env
    r = raw(api, fields() + part("file", CSV, filename) + end())
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert text in r.json()["detail"]  # type: ignore[attr-defined]
    nothing_stored(h)


def test_unicode_name_is_kept(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = raw(api, fields() + part("file", b"# r\n", "Résultats 表.md".encode()) + end())
    assert r.status_code == 201  # type: ignore[attr-defined]
    assert r.json()["files"][0]["name"] == "Résultats 表.md"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("files", "status", "code", "text"), [
    ([("a.csv", CSV), ("A.CSV", CSV)], 422, "duplicate_name", "two files are named"),
    ([("a.csv", CSV), ("a.csv", CSV)], 422, "duplicate_name", "two files are named"),
    ([("empty.csv", b"")], 422, "empty_file", "is empty"),
    ([("big.csv", b"x," * 30_000)], 413, "too_large", "per file"),
    ([("a.md", b"x" * 45_000), ("b.md", b"y" * 45_000)], 413, "too_large", "request is larger"),
    ([("t.csv", b"region,n\n=HYPERLINK(\"http://evil\"),12\n")], 422, "formula",
     "t.csv: the cell in row 2, column 'region' holds '=HYPERLINK(\"http://evil\")': a "
     "spreadsheet would run this as a formula; rename the label"),
    ([("t.csv", b"region,n\n+cmd,12\n-x,3\n")], 422, "formula",
     "column 'region' holds '-x': a spreadsheet would run these as formulas; rename the labels"),
    ([("t.csv", b"region,n\n@SUM(A1),12\nNorth,-3\n")], 422, "formula", "@SUM"),
    ([("a.zip", b"PK\x05\x06" + b"\x00" * 18)], 415, "refused_type", "zip"),
    ([("t.csv", b"\x7fELF" + b"\x00" * 60)], 415, "refused_type", "executable"),
    ([("t.csv", b"a,b\n1,2,3\n")], 422, "unreadable_table", "line 2 has 3 fields"),
])
def test_bad_files(env: tuple[Api, Harness], files: list[tuple[str, bytes]], status: int,
                   code: str, text: str) -> None:
    api, h = env
    r = api.submit("alice", files)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and text in r.json()["detail"]
    nothing_stored(h)


def test_negative_numbers_are_not_formulas(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("change.csv", b"region,change\nNorth,-12\nSouth,+3\n")])
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("body", "text"), [
    (b"not a multipart body", "malformed multipart"),
    (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"project\"\r\n\r\n",
     "ended before"),
    (part("project", PROJECT.encode()) + part("file", CSV, b"a.csv"), "ended before"),
    (part("nonsense", b"x") + end(), "unknown form field"),
])
def test_malformed_multipart(env: tuple[Api, Harness], body: bytes, text: str) -> None:
    api, h = env
    r = raw(api, body)
    assert r.status_code == 400 and text in r.json()["detail"]  # type: ignore[attr-defined]
    nothing_stored(h)


def test_not_multipart_and_declared_too_large(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.client.post("/api/requests", json={"project": PROJECT}, headers=auth("alice"))
    assert r.status_code == 415
    r = api.client.post("/api/requests", content=b"x", headers={
        **auth("alice"), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(10**9)})
    assert r.status_code == 413
    nothing_stored(h)


def test_sidecar_of_another_file(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    path, _ = safe_table(tmp_path)
    _, other_side = failing_table(tmp_path)
    r = api.submit("alice", [(path.name, path.read_bytes())],
                   sidecars=[(path.name + ".statbarn.json", other_side.read_bytes())])
    assert r.status_code == 422 and r.json()["code"] == "sidecar_mismatch"
    assert "evidence of another file" in r.json()["detail"]
    r = api.submit("alice", [(path.name, path.read_bytes())],
                   sidecars=[("nothing.csv.statbarn.json", other_side.read_bytes())])
    assert r.status_code == 422 and "belongs to no file" in r.json()["detail"]
    r = api.submit("alice", [(path.name, path.read_bytes())],
                   sidecars=[(path.name + ".statbarn.json", b"{not json")])
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    nothing_stored(h)


def test_changed_file_with_its_old_sidecar(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    path, side = safe_table(tmp_path)
    changed = path.read_bytes().replace(b"North", b"Nord")
    r = api.submit("alice", [(path.name, changed)], sidecars=[(side.name, side.read_bytes())])
    assert r.status_code == 422 and "file changed after" in r.json()["detail"]
    nothing_stored(h)


@pytest.mark.parametrize(("data", "text"), [
    ({"context": "x"}, "needs a project"),
    ({"project": "../x", "context": "x"}, "not a valid name"),
    ({"project": PROJECT}, "has no context"),
    ({"project": PROJECT, "context": "x", "manifest": "[{"}, "manifest is not valid JSON"),
    ({"project": PROJECT, "context": "x", "manifest": json.dumps([{"name": "zz.csv"}])},
     "not among the files"),
    ({"project": PROJECT, "context": "x", "manifest": json.dumps([{"name": "a.csv", "x": 1}])},
     "unknown manifest key"),
    ({"project": PROJECT, "context": "x", "draft": "perhaps"}, "draft must be"),
])
def test_bad_fields(env: tuple[Api, Harness], data: dict[str, str], text: str) -> None:
    api, h = env
    r = api.client.post("/api/requests", data=data, files=[("file", ("a.csv", CSV))],
                        headers=auth("alice"))
    assert r.status_code == 422 and text in r.json()["detail"], r.text
    nothing_stored(h)


def test_no_files(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = raw(api, fields() + end())
    assert r.status_code == 422 and "holds no file" in r.json()["detail"]  # type: ignore
    nothing_stored(h)


def test_bad_votes_and_bodies(env: tuple[Api, Harness]) -> None:
    api, _ = env
    rid = api.submit("alice", [("n.md", b"# n\n")]).json()["id"]
    r = api.post("carol", f"/api/requests/{rid}/votes", json={"votes": []})
    assert r.status_code == 422 and r.json()["code"] == "invalid"
    r = api.post("carol", f"/api/requests/{rid}/votes", content=b"{", headers={
        "Content-Type": "application/json"})
    assert r.status_code == 422
    r = api.post("carol", f"/api/requests/{rid}/votes",
                 json={"votes": [{"file_id": "nope", "choice": "approve"}]})
    assert r.status_code == 422 and "not part of this request" in r.json()["detail"]
