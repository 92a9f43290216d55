"""Issue 14, finding 1: a queue to triage by (title, files, context, reasons, age; a
filter by reason; a "decided" tab with search), and the title at intake."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app, failing_table
from tests.harness.pages import Pages, TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"')[1].split("</tbody>")[0]
    return body.split("<tr")[2:]  # [0]: before the header, [1]: the header


def test_the_title_is_taken_bounded_and_shown(env: tuple[Api, Harness]) -> None:
    api, h = env
    r = api.submit("alice", [("notes.md", b"# notes\n")],
                   extra={"title": "  Regional counts for the March report "})
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Regional counts for the March report"
    too_long = api.submit("alice", [("notes.md", b"# notes\n")], extra={"title": "x" * 201})
    assert too_long.status_code == 422
    assert "201 characters long; at most 200" in too_long.json()["detail"]
    forged = api.submit("alice", [("notes.md", b"# notes\n")], extra={"title": "a\r\nb"})
    assert forged.status_code == 422 and "U+000D" in forged.json()["detail"]
    html = Pages(h.app, "carol").get("/queue").text
    assert "Regional counts for the March report" in html


def test_queue_rows_say_what_and_why(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    md = api.submit("alice", [("notes.md", b"# notes\n")],
                    context="Notes on the cohort definition, written for the March report. " * 5,
                    extra={"title": "Cohort notes"})
    assert md.status_code == 201
    tbl = api.submit_table("alice", failing_table(tmp_path), extra={"title": "Small counts"},
                           manifest=[{"name": failing_table(tmp_path)[0].name,
                                      "exception": "the suppressed cells are synthetic"}])
    assert tbl.status_code == 201, tbl.text
    assert tbl.json()["state"] == "in_review"
    carol = Pages(h.app, "carol")
    html = carol.get("/queue").text
    rows = _rows(html, "queue")
    assert len(rows) == 2
    first, second = rows  # oldest first
    assert "Cohort notes" in first and "notes.md" in first
    assert "Notes on the cohort definition, written for the March report." in first
    assert "…" in first  # the context is cut, not shown whole
    assert "type not checkable automatically" in first
    assert "small or dominated cell" not in first
    assert "Small counts" in second and "small or dominated cell" in second
    assert "exception asked" in second
    only = carol.get("/queue?reason=exception").text
    assert len(_rows(only, "queue")) == 1 and "Small counts" in only
    assert 'value="exception" selected' in only
    assert "1</strong> match the filters" in only


def test_decided_tab_with_search(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    a = api.submit("alice", [("notes.md", b"# notes\n")], extra={"title": "Alpha table"}).json()
    b = api.submit("alice", [("methods.md", b"# m\n")], extra={"title": "Beta notes"}).json()
    for req, choice in ((a, "reject"), (b, "approve")):
        r = api.vote("carol", req["id"], req["files"][0]["id"], choice, "decided")
        assert r.status_code == 200, r.text
    carol = Pages(h.app, "carol")
    html = carol.get("/queue?tab=decided").text
    assert len(_rows(html, "decided")) == 2
    assert "Alpha table" in html and "Beta notes" in html and "rejected" in html
    found = carol.get("/queue?tab=decided&q=METHODS").text  # a file name, any case
    assert len(_rows(found, "decided")) == 1 and "Beta notes" in found
    by_id = carol.get(f"/queue?tab=decided&q={a['id'][:8]}").text
    assert len(_rows(by_id, "decided")) == 1 and "Alpha table" in by_id
    none = carol.get("/queue?tab=decided&q=%25").text  # a wildcard is a character
    assert 'id="decided-none"' in none
    assert re.search(r'id="tab-decided" aria-current="page"', html)
    assert Pages(h.app, "alice").get("/queue?tab=decided").status_code == 403
