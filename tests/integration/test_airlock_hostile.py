"""Hostile export files through the airlock API: each is refused, or released as a
canonical copy from which the hidden payload is gone (searched for in the bundle).

The files come from :mod:`tests.hostile` (deterministic).  The rule under test:
never send to a person, nor release, a payload no person can see.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.db import repo
from tests import hostile
from tests.harness.airlock import Api, Harness, api_env
from tests.hostile import MARKER

pytestmark = pytest.mark.integration

BY_NAME = {h.name: h for h in hostile.all_hostile()}

# name -> (status, code, words the researcher is told)
REFUSED: dict[str, tuple[int, str, str]] = {
    "bomb.png": (413, "image_too_large", "10,000 megapixels"),
    "attachment.pdf": (422, "hidden_content", "embedded attachment"),
    "openaction.pdf": (422, "hidden_content", "JavaScript"),
    "objstm_js.pdf": (422, "hidden_content", "JavaScript"),
    "form.pdf": (422, "hidden_content", "a form"),
    "updated.pdf": (422, "hidden_content", "incremental update"),
    "very_hidden.xlsx": (422, "hidden_content", "very hidden sheet(s) 'data'"),
    "hidden.xlsx": (422, "hidden_content", "hidden sheet(s) 'data'"),
    "custom_xml.xlsx": (422, "hidden_content", "custom XML"),
    "defined_name.xlsx": (422, "hidden_content", "defined name(s) 'notes'"),
    "external_link.xlsx": (422, "hidden_content", "external links"),
    "macros.xlsx": (415, "refused_type", "macros"),
    "unused_strings.xlsx": (422, "hidden_content", "300 shared string(s) that no cell shows"),
    "data_uri.md": (422, "hidden_content", "line 5 holds a data: URI"),
    "html_image.md": (422, "hidden_content", "line 3 holds a data: URI"),
    "bomb.svg": (422, "hidden_content", "entity declarations"),
    "script.svg": (422, "hidden_content", "SVG drawing with a script"),
}
# name -> (state after the checks, words in what the record says was removed)
CANONICAL: dict[str, tuple[str, str]] = {
    "by_region.parquet": ("released", "'patients'"),
    "trailing.png": ("in_review", "after the end of the image (IEND)"),
    "text_chunk.png": ("in_review", "text chunk"),
    "ztext_chunk.png": ("in_review", "text chunk"),
    "itext_chunk.png": ("in_review", "text chunk"),
    "photo.jpg": ("in_review", "EXIF metadata"),
    "widgets.ipynb": ("in_review", "widget state"),
    "csv_output.ipynb": ("in_review", "text/csv output data"),
    "json_output.ipynb": ("in_review", "application/json output data"),
    "figure_text.ipynb": ("in_review", "image 1 text chunk"),
}


def test_every_hostile_class_is_covered() -> None:
    assert set(REFUSED) | set(CANONICAL) == set(BY_NAME)


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def submit(api: Api, name: str) -> Any:
    # A bare table is checked only with its statistic declared (else a person decides).
    manifest = [{"name": name, "statistic": "count"}] if name.endswith(".parquet") else None
    return api.submit("alice", [(name, BY_NAME[name].data)],
                      context="figures and tables of patients by region", manifest=manifest)


def blobs(h: Harness) -> int:
    return sum(1 for _ in h.ctx.store.all_blobs())


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_reason(env: tuple[Api, Harness], name: str) -> None:
    api, h = env
    status, code, words = REFUSED[name]
    r = submit(api, name)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and words in body["detail"], body
    assert name in body["detail"] and "Traceback" not in body["detail"]
    assert blobs(h) == 0  # nothing stored


def released_bundle(api: Api, req: dict[str, Any]) -> zipfile.ZipFile:
    if req["state"] == "in_review":
        fid = req["files"][0]["id"]
        r = api.vote("carol", req["id"], fid, "approve")
        assert r.status_code == 200 and r.json()["state"] == "released", r.text
    b = api.bundle("alice", req["id"])
    assert b.status_code == 200, b.text
    return zipfile.ZipFile(io.BytesIO(b.content))


def assert_plain(name: str, data: bytes) -> None:
    """The released bytes carry none of what a viewer does not show."""
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        assert pq.read_metadata(io.BytesIO(data)).metadata is None
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
        assert frame.to_dict("list") == hostile.freq_frame().to_dict("list")  # type: ignore[attr-defined]
    elif name.endswith((".png", ".jpg")):
        from PIL import Image

        im = Image.open(io.BytesIO(data))
        assert not im.info.get("exif") and not getattr(im, "text", {}) \
            and "icc_profile" not in im.info and "comment" not in im.info
        original = Image.open(io.BytesIO(BY_NAME[name].data))
        assert im.size == original.size
        if name.endswith(".png"):  # lossless: the very pixels that were submitted
            assert im.convert("RGB").tobytes() == original.convert("RGB").tobytes()
        end = data.rindex(b"IEND") + 8 if name.endswith(".png") else data.rindex(b"\xff\xd9") + 2
        assert end == len(data)  # nothing after the end of the image
    elif name.endswith(".ipynb"):
        nb = json.loads(data)
        assert set(nb["metadata"]) <= {"kernelspec", "language_info"}
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                assert set(out.get("data", {})) <= {"text/plain", "image/png", "image/jpeg"}
                assert len(out.get("data", {})) <= 1


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_released_as_a_canonical_copy_without_the_payload(env: tuple[Api, Harness],
                                                          name: str) -> None:
    api, _ = env
    state, removed = CANONICAL[name]
    submitted = BY_NAME[name].data
    r = submit(api, name)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == state, req["decision"]
    f = req["files"][0]
    assert f["submitted_sha256"] == hashlib.sha256(submitted).hexdigest() != f["sha256"]
    assert any(removed in line for line in f["canonical"]["removed"]), f["canonical"]
    if state == "in_review":  # the checker is shown the canonical copy, verified
        shown = api.get("carol", f"/api/requests/{req['id']}/files/{f['id']}/content")
        assert shown.status_code == 200
        assert hashlib.sha256(shown.content).hexdigest() == f["sha256"]
        assert MARKER.encode() not in shown.content
    z = released_bundle(api, req)
    released = z.read(f"files/{name}")
    assert hashlib.sha256(released).hexdigest() == f["sha256"]
    assert len(released) == f["size"]
    for member in z.namelist():  # the payload is nowhere in the bundle
        assert MARKER.encode() not in z.read(member), member
    if BY_NAME[name].marker_visible:
        assert MARKER.encode() in submitted  # (the test would see it, were it left)
    assert_plain(name, released)
    record = json.loads(z.read("record.json"))
    (rec,) = record["files"]
    assert rec["sha256"] == f["sha256"]
    assert rec["submitted_sha256"] == hashlib.sha256(submitted).hexdigest()
    assert rec["canonical"]["submitted_size"] == len(submitted)
    assert any(removed in line for line in rec["canonical"]["removed"])


def test_the_check_runs_on_the_canonical_parquet(env: tuple[Api, Harness]) -> None:
    """A frequency table released automatically: the copy is what was checked (its cells),
    and the submitted file, with the records, is kept in the store but never served."""
    api, h = env
    req = submit(api, "by_region.parquet").json()
    f = req["files"][0]
    assert req["state"] == "released" and f["verdict"] == "pass"
    assert h.ctx.store.exists(f["submitted_sha256"]) and h.ctx.store.exists(f["sha256"])
    cells = [c for c in f["checks"][0]["result"]["checks"] if c["rule"] == "threshold"]
    assert cells and cells[0]["verdict"] == "pass"


def test_a_canonical_copy_is_stable_when_resubmitted(env: tuple[Api, Harness]) -> None:
    """Submitting the released PNG again changes nothing: re-encoding a canonical copy
    gives the same bytes (so a file's hash means the same thing every time)."""
    api, _ = env
    first = submit(api, "text_chunk.png").json()["files"][0]
    z = released_bundle(api, submit(api, "text_chunk.png").json())
    again = api.submit("alice", [("again.png", z.read("files/text_chunk.png"))],
                       context="the same figure").json()["files"][0]
    assert again["sha256"] == first["sha256"] and again["canonical"] is None
    assert again["submitted_sha256"] == again["sha256"]


def test_a_draft_is_made_canonical_when_submitted(env: tuple[Api, Harness]) -> None:
    """A draft keeps the submitted bytes until it is submitted; then the copy is made,
    checked and recorded, and the sweep keeps both blobs (the original is evidence)."""
    api, h = env
    submitted = BY_NAME["text_chunk.png"].data
    draft = api.submit("alice", [("text_chunk.png", submitted)],
                       context="a figure", extra={"draft": "true"}).json()
    f = draft["files"][0]
    assert draft["state"] == "draft" and f["sha256"] == hashlib.sha256(submitted).hexdigest()
    assert f["canonical"] is None
    r = api.post("alice", f"/api/requests/{draft['id']}/submit")
    assert r.status_code == 200, r.text
    after = api.request("alice", draft["id"]).json()
    g = after["files"][0]
    assert after["state"] == "in_review" and g["sha256"] != f["sha256"]
    assert g["submitted_sha256"] == f["sha256"] and "text chunk" in g["canonical"]["removed"][0]
    shown = api.get("carol", f"/api/requests/{draft['id']}/files/{g['id']}/content")
    assert hashlib.sha256(shown.content).hexdigest() == g["sha256"]
    assert MARKER.encode() not in shown.content
    with h.ctx.db() as s:
        refs = repo.referenced_blobs(s)
    assert {g["sha256"], g["submitted_sha256"]} <= refs
    assert h.ctx.store.sweep(refs).orphan_blobs == 0
    assert h.ctx.store.exists(g["submitted_sha256"])
