"""Every part counted while streaming, JSON depth bounded, and each refusal a sentence a
researcher can act on (issue 11: bad input that cost the server or misled)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from airlock.db.models import Request
from tests.harness.airlock import PROJECT, Api, Harness, api_env, auth

pytestmark = pytest.mark.integration
BOUNDARY = "b0und4ry"
CSV = b"region,F,M\nNorth,25,31\nSouth,40,18\n"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data", max_file_bytes=50_000,
                 max_request_bytes=2_000_000, max_files=10) as env:
        yield env


def part(name: str, body: bytes, filename: str | None = None) -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n").encode() + body + b"\r\n"


def raw(api: Api, body: bytes) -> Any:
    return api.client.post("/api/requests", content=body, headers={
        **auth("alice"), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def nothing_stored(h: Harness) -> None:
    with h.ctx.db() as s:
        assert s.scalar(select(func.count()).select_from(Request)) == 0
    assert list(h.ctx.store.all_blobs()) == []
    assert list(h.ctx.store.tmp.iterdir()) == []


def test_20000_sidecar_parts_are_refused_before_they_are_staged(
    env: tuple[Api, Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, h = env
    made: list[int] = []
    new_temp = h.ctx.store.new_temp

    def counted_new_temp() -> Any:
        made.append(1)
        return new_temp()

    monkeypatch.setattr(h.ctx.store, "new_temp", counted_new_temp)
    body = part("project", PROJECT.encode()) + part("context", b"counts") + \
        part("file", CSV, "t.csv") + b"".join(
            part("sidecar", b"{}", f"t{i}.csv.statbarn.json") for i in range(20_000)) + \
        f"--{BOUNDARY}--\r\n".encode()
    r = raw(api, body)
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "too many sidecars: at most 10 per request"
    assert len(made) == 11  # the file and ten sidecars: the eleventh was never staged
    nothing_stored(h)


def test_parts_are_counted_whatever_they_are(env: tuple[Api, Harness]) -> None:
    api, h = env
    body = part("project", PROJECT.encode()) + b"".join(
        part("file", CSV, f"t{i}.csv") + part("sidecar", b"{}", f"t{i}.csv.statbarn.json")
        for i in range(10)) + part("context", b"x") + f"--{BOUNDARY}--\r\n".encode()
    r = raw(api, body)  # 22 parts: within 2 x 10 + 20
    assert r.status_code != 413, r.text
    many = body.replace(f"--{BOUNDARY}--".encode(), b"") + b"".join(
        part("file", CSV, f"u{i}.csv") for i in range(30)) + f"--{BOUNDARY}--\r\n".encode()
    r = raw(api, many)
    assert r.status_code == 413 and "too many" in r.json()["detail"], r.text
    nothing_stored(h)


def test_a_manifest_nested_1000_deep_is_a_sentence_not_a_500(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.submit("alice", [("t.csv", CSV)], extra={"manifest": "[" * 1000 + "]" * 1000})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == ("the manifest nests lists or objects more than 100 levels "
                                  "deep; the airlock reads JSON up to 100 levels: flatten it")
    nothing_stored(h)


def test_a_deep_but_valid_json_file_is_refused_in_words(env: tuple[Api, Harness]) -> None:
    api, _ = env
    deep = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    r = api.submit("alice", [("deep.json", deep)])
    assert r.status_code == 415, r.text
    detail = r.json()["detail"]
    assert "recursion" not in detail
    assert detail.startswith("deep.json nests lists or objects more than 100 levels deep")


def test_a_deep_sidecar_is_refused_in_words(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.submit("alice", [("t.csv", CSV)],
                   sidecars=[("t.csv.statbarn.json", b"[" * 20_000 + b"]" * 20_000)])
    assert r.status_code == 422, r.text
    assert "more than 100 levels deep" in r.json()["detail"]
    nothing_stored(h)


def test_a_cyrillic_letter_in_the_extension_is_named(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.submit("alice", [("table.\u0441sv", CSV)])  # U+0441 looks like a Latin c
    assert r.status_code == 415, r.text
    assert r.json()["detail"] == (
        "table.\u0441sv: its extension .\u0441sv holds '\u0441' (U+0441 CYRILLIC SMALL LETTER "
        "ES), not a plain letter, so it is not .csv (the content is csv); rename it to end "
        "in .csv")
    nothing_stored(h)


def test_a_semicolon_separated_file_is_named_as_such(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("t.csv", b"region;F;M\nNorth;25;31\nSouth;40;18\n")])
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "t.csv: the header has no comma but 2 semicolons (;): the file seems to be separated "
        "by semicolons (;); save it with commas (,) between the fields")
    r = api.submit("alice", [("t.csv", b"region,F\nNorth,25,31\n")])
    assert r.status_code == 422, r.text
    assert "line 2 has 3 fields but the header has 2 fields" in r.json()["detail"]
    r = api.submit("alice", [("t.csv", b"region;F\nNorth,25;31\n")])
    assert "has 2 fields but the header has 1 field:" not in r.json()["detail"]
    assert "1 fields" not in r.json()["detail"]


def test_csv_module_jargon_becomes_a_sentence(db_url: str, tmp_path: Path) -> None:
    body = b'region,n\n"' + b"x" * 140_000 + b'",1\n'
    with api_env(db_url, tmp_path / "data") as (api, _):
        r = api.submit("alice", [("t.csv", body)])
    assert r.status_code in (415, 422), r.text
    detail = r.json()["detail"]
    assert "field limit" not in detail and "131072" not in detail
    assert "a cell is longer than 131,072 characters" in detail


def test_limits_are_given_in_mb(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.submit("alice", [("big.csv", b"a,b\n" + b"1,2\n" * 20_000)])
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "big.csv is larger than the limit of 0.048 MB per file"
    nothing_stored(h)


def test_a_word_document_is_named(env: tuple[Api, Harness]) -> None:
    api, _ = env
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    r = api.submit("alice", [("report.docx", buf.getvalue())])
    assert r.status_code == 415, r.text
    assert r.json()["detail"].startswith("report.docx is a Word document")
    assert "export it as PDF" in r.json()["detail"]


def test_a_spreadsheet_part_that_expands_too_far_is_refused(env: tuple[Api, Harness]) -> None:
    api, _ = env
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", " " * 40_000_000)
    assert len(buf.getvalue()) < 50_000
    r = api.submit("alice", [("book.xlsx", buf.getvalue())])
    assert r.status_code == 415, r.text
    detail = r.json()["detail"]
    assert detail.startswith("book.xlsx: its part 'xl/worksheets/sheet1.xml' expands from ")
    assert "to 38 MB, more than 200 times" in detail


def test_json_round_trip_of_a_flat_manifest_still_works(env: tuple[Api, Harness]) -> None:
    api, _ = env
    manifest = [{"name": "t.csv", "context": "counts of patients by region and sex"}]
    r = api.submit("alice", [("t.csv", CSV)], context=None, extra={
        "manifest": json.dumps(manifest)})
    assert r.status_code == 201, r.text
