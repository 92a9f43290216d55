"""What the request page shows of each kind of file: notebooks read-only (images served
from the airlock), earlier releases named by the differencing check side by side, images
and PDFs inline, large tables; and the queue's filters."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

import statbarn as sb
from airlock.ui import explain, tables
from tests.browser.outputs import png
from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app, patients, safe_table
from tests.harness.pages import Pages, TestClient
from tre.clock import FixedClock

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    from tre.db import upgrade

    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    with airlock_app(url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def notebook() -> bytes:
    image = base64.b64encode(png()).decode()
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Results <b>bold</b>"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1,
             "source": ["print('<img src=x onerror=alert(1)>')"],
             "outputs": [
                 {"output_type": "stream", "name": "stdout",
                  "text": ["<img src=x onerror=alert(1)>\n", '=HYPERLINK("http://e","x")\n']},
                 {"output_type": "display_data", "metadata": {},
                  "data": {"image/png": image, "text/plain": ["<Figure>"]}},
                 {"output_type": "execute_result", "metadata": {}, "execution_count": 1,
                  "data": {"text/html": ["<table><tr><td onclick=x>1</td></tr></table>"],
                           "text/plain": ["   a\n0  1"]}},
             ]},
        ]}).encode()


def test_notebook_is_shown_read_only(env: tuple[Api, Harness]) -> None:
    api, h = env
    req = api.submit("alice", [("analysis.ipynb", notebook())], manifest=[
        {"name": "analysis.ipynb", "context": "the analysis", "exception": "a tiny demo"}]).json()
    assert req["state"] == "in_review", req
    carol = Pages(h.app, "carol")
    page = carol.get(f"/requests/{req['id']}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "<td onclick" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "=HYPERLINK(&#34;http://e&#34;,&#34;x&#34;)" in page
    src = f"/requests/{req['id']}/files/{req['files'][0]['id']}/outputs/2/1"
    assert f'src="{src}"' in page
    img = carol.get(src)
    # the notebook's canonical copy: the image re-encoded from its pixels (the same pixels)
    assert img.status_code == 200
    assert Image.open(io.BytesIO(img.content)).tobytes() == Image.open(io.BytesIO(png())).tobytes()
    assert img.headers["content-type"] == "image/png"
    assert img.headers["content-security-policy"].startswith("sandbox")
    assert carol.get(src.replace("/1", "/0")).status_code == 404  # a stream, no image
    assert Pages(h.app, "alice").get(src).status_code == 403  # the requester: not a reviewer


def test_images_and_pdfs_inline_from_this_origin(env: tuple[Api, Harness]) -> None:
    api, h = env
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    req = api.submit("alice", [("chart.png", png()), ("report.pdf", pdf)]).json()
    page = Pages(h.app, "carol").get(f"/requests/{req['id']}").text
    png_id, pdf_id = (f["id"] for f in req["files"])
    assert f'<img class="output" src="/api/requests/{req["id"]}/files/{png_id}/content"' in page
    assert f'<iframe class="pdf" src="/api/requests/{req["id"]}/files/{pdf_id}/content"' in page


def test_differencing_names_the_earlier_release_side_by_side(env: tuple[Api, Harness],
                                                             tmp_path: Path) -> None:
    api, h = env
    df = patients()
    sb.crosstab(df.region, df.sex).save(tmp_path / "all.csv")
    first = api.submit_table("alice", (tmp_path / "all.csv",
                                       tmp_path / "all.csv.statbarn.json")).json()
    assert first["state"] == "released"
    drop = df[(df.region == "North") & (df.sex == "F")].index[:4]
    sb.crosstab(df.drop(drop).region, df.drop(drop).sex).save(tmp_path / "fewer.csv")
    second = api.submit_table("alice", (tmp_path / "fewer.csv",
                                        tmp_path / "fewer.csv.statbarn.json")).json()
    assert second["state"] == "in_review"
    page = Pages(h.app, "carol").get(f"/requests/{second['id']}").text
    assert "Differencing with earlier releases" in page
    assert "Earlier release: all.csv" in page
    assert f'href="/requests/{first["id"]}"' in page
    assert 'class="pane earlier"' in page
    # how each flagged count is derived: the earlier cell beside this table's, the count left
    north_f = int(((df.region == "North") & (df.sex == "F")).sum())
    assert "How the differencing counts are derived" in page
    assert f"+ region=North, sex=F [{north_f}] of \u201ca table of patients by region and " \
        "sex, made with statbarn\u201d, all.csv, released " in page
    assert f"− region=North, sex=F [{north_f - 4}] of this table" in page
    assert f"{north_f} − {north_f - 4} = 4" in page
    # ... for the request's reviewers only: its researcher's page has no derivations
    mine = Pages(h.app, "alice").get(f"/requests/{second['id']}").text
    assert "How the differencing counts are derived" not in mine
    assert "Earlier release:" not in mine


def test_a_large_table_renders_whole(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    rows = ["label," + ",".join(f"c{j}" for j in range(50))]
    rows += [f"r{i}," + ",".join(str(100 + i + j) for j in range(50)) for i in range(200)]
    rows[5] = "r4," + ",".join(["3"] + [str(100 + j) for j in range(1, 50)])
    req = api.submit("alice", [("big.csv", ("\n".join(rows) + "\n").encode())],
                     manifest=[{"name": "big.csv", "context": "big", "exception": "look",
                               "statistic": "count"}]
                     ).json()
    page = Pages(h.app, "carol").get(f"/requests/{req['id']}").text
    assert page.count("<td") >= 200 * 50
    assert page.count('class="flag fail"') == 1
    assert "more rows are not shown" not in page


def test_flags_are_placed_by_label_and_the_rest_listed() -> None:
    rows = [["region", "F", "M"], ["North", "12", "3"], ["South", "40", "41"]]
    flags = [explain.Flag("threshold", "fail", "North", "M", "3", "10", "small"),
             explain.Flag("differencing", "escalate", "All", "F", "2", "10", "derived"),
             explain.Flag("dof", "fail", None, None, "1", "10", "whole output")]
    evidence = tables.Evidence({"rows": ["North", "South"], "cols": ["F", "M"],
                                "index_names": ["region"], "column_names": ["sex"],
                                "cells": {"count": [[12, 3], [40, 41]],
                                          "sum": [[100.0, 90.0], [1.0, 1.0]],
                                          "top": [[[50.0, 20.0], [80.0, 5.0]],
                                                  [[0.1, 0.1], [0.1, 0.1]]]}})
    grid = tables.build(rows, flags, evidence, "f1")
    north = str(grid.rows[0])
    assert north.startswith('<tr><th scope="row">North</th><td title="12 contributors; '
                            'largest 50.0% of the total, largest 2 70.0%">12</td>')
    assert ('<td class="flag fail" id="f1-r0-c1" tabindex="0" data-nav="cell" title="'
            "Minimum number of contributors: small\n3 contributors; largest 88.9%") in north
    assert grid.flagged == 1 and grid.texts[0] == ["12", "3"]
    assert flags[0].anchor == "f1-r0-c1" and flags[0].evidence.startswith("3 contributors")
    assert [f.rule for f in grid.unplaced] == ["differencing", "dof"]
    safe = tables.build([["region", "F", "M"], ["North", "12", ""], ["South", "40", "41"]],
                        [], tables.Evidence(None), "a", original=grid)
    assert safe.suppressed == 1 and 'class="suppressed"' in str(safe.rows[0])
    again = tables.build([["region", "F", "M"], ["North", "12", ""]], [],
                         tables.Evidence(None), "b", original=safe)
    assert again.suppressed == 0  # blank in both: nothing was suppressed
    hostile = tables.build([["a", "b"], ["<i>x</i>", '"><script>']], [],
                           tables.Evidence(None), "h")
    assert "<i>" not in str(hostile.rows[0]) and "&lt;script&gt;" in str(hostile.rows[0])
    assert explain.show_value("nk_dominance", 0.9995) == "100.0%"
    assert explain.show_value("threshold", 10) == "10"


def test_queue_filters_and_counts(tmp_path: Path) -> None:
    from tre.db import upgrade

    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    clock = FixedClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    with airlock_app(url, tmp_path / "data", clock=clock) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as c:
        api = Api(c)
        old = api.submit("alice", [("notes.md", b"# old\n")]).json()
        clock.advance(days=4)
        table = api.submit_table("alice", safe_table(tmp_path))
        assert table.json()["state"] == "released"
        new = api.submit("bob", [("chart.png", png())]).json()
        carol = Pages(h.app, "carol")
        page = carol.get("/queue").text
        assert "<strong>2</strong> requests waiting" in page
        assert page.index(old["id"][:8]) < page.index(new["id"][:8])  # oldest first
        aged = carol.get("/queue?age=3").text
        assert old["id"][:8] in aged and new["id"][:8] not in aged
        assert "<strong>1</strong> match the filters" in aged
        assert old["id"][:8] not in carol.get("/queue?project=other-project").text
        kinds = carol.get("/queue?statbarn=unknown").text
        assert old["id"][:8] in kinds
        assert carol.get("/queue?needed=2").text.count("/requests/") == 0
        assert new["id"][:8] in carol.get("/queue?needed=1").text
        assert "No request matches" in carol.get("/queue?dataset=none").text
