"""The attack review's intake findings (round review), fixed: labels of tables, the size
of an automatically released table, invisible PNG colours, notebook text the review page
cuts, identifiers in notebook outputs.  Each asserts the SAFE behaviour.
"""

from __future__ import annotations

import io
import json
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.harness.airlock import Api, Harness, api_env


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness, Any]]:
    """(inside api, harness, outside TestClient)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with api_env(db_url, tmp_path / "data") as (api, h), TestClient(h.app) as outside:
        yield api, h, outside

# Plain identifiers any scan should refuse: a full date, a full postcode, a valid NHS
# number (943 476 5919 has a valid modulus-11 check digit), an e-mail address.
REC = "Smith John 1950-03-02 SW1A 1AA 9434765919 john.smith@example.com"
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
    "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "north", "south",
    "east", "west", "upper", "lower",
)


def words(data: bytes) -> str:
    """5 bits a word: no digits, no entropy a base64 detector sees."""
    bits = "".join(f"{x:08b}" for x in data)
    bits += "0" * (-len(bits) % 5)
    return " ".join(WORDS[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def records(n: int) -> bytes:
    rng = random.Random(1)
    return "".join(f"{9000000000 + i},{rng.choice(['Smith', 'Jones'])},19{rng.randint(30, 99)}-"
                   f"0{rng.randint(1, 9)}-1{rng.randint(0, 9)},LS{rng.randint(1, 9)} "
                   f"{rng.randint(1, 9)}AB\n" for i in range(n)).encode()


def declared_count(api: Any, name: str, data: bytes, **kw: Any) -> Any:
    return api.submit("alice", [(name, data)], context="counts of patients by region",
                      manifest=[{"name": name, "statistic": "count", **kw}])


# ---- F1: table labels and column names are never scanned ---------------------------------
def test_identifiers_in_the_labels_of_a_count_table_are_not_released(env: Any) -> None:
    api, _, _ = env
    csv = f"region,count\n{REC},25\nSouth,30\n".encode()
    r = declared_count(api, "by_region.csv", csv)
    assert r.status_code in (201, 422), r.text
    assert r.status_code == 422 or r.json()["state"] != "released", \
        "an NHS number, date of birth, postcode and e-mail in a row label were released " \
        "automatically"


def test_identifiers_in_a_csv_header_are_not_released(env: Any) -> None:
    api, _, _ = env
    r = declared_count(api, "c.csv", f"region,{REC}\nNorth,25\nSouth,30\n".encode())
    assert r.status_code == 422 or r.json()["state"] != "released", "header released"


def test_identifiers_in_parquet_column_and_index_names_are_not_released(env: Any) -> None:
    api, _, _ = env
    for frame in (pd.DataFrame({REC: ["North", "South"], "count": [25, 30]}),
                  pd.DataFrame({"count": [25, 30]}, index=pd.Index(["North", "South"], name=REC))):
        b = io.BytesIO()
        frame.to_parquet(b)
        r = declared_count(api, "p.parquet", b.getvalue())
        assert r.status_code == 422 or r.json()["state"] != "released", \
            "a Parquet column/index name holding identifiers was released automatically"


def test_300_person_records_word_encoded_in_labels_are_not_released(env: Any) -> None:
    """10.8 KB of records (NHS number, surname, date of birth, postcode) in 180 row labels of
    a 'count' table: every count >= 10, no digit in any label."""
    api, _, _ = env
    payload = records(300)
    labels = [words(payload[i:i + 60]) for i in range(0, len(payload), 60)]
    body = "region,count\n" + "".join(f"{lab},{20 + i}\n" for i, lab in enumerate(labels))
    r = declared_count(api, "regions.csv", body.encode())
    assert r.status_code == 422 or r.json()["state"] != "released", \
        f"{len(payload)} bytes of records released automatically in row labels"


def test_the_counts_themselves_carry_a_file(env: Any) -> None:
    """Each count is 10 + one byte of the payload: every cell passes the threshold."""
    api, _, _ = env
    payload = records(100)
    body = "cell,count\n" + "".join(f"c{i},{10 + b}\n" for i, b in enumerate(payload))
    r = declared_count(api, "cells.csv", body.encode())
    assert r.status_code == 422 or r.json()["state"] != "released", \
        f"a {len(payload)}-byte file released automatically as a column of counts"
    # 3,600 bytes: 3,600 rows of one count each, over the default bound of 2,000 cells.
    assert len(payload) == 3600
    reasons = [x["message"] for x in r.json()["decision"]["reasons"]]
    assert any("3,600 cells, more than the 2,000" in m for m in reasons), reasons


def test_a_table_at_the_cell_bound_is_still_released(env: Any) -> None:
    """2,000 cells (1,000 rows of two counts) is the bound itself: released; one row more
    (2,002 cells) goes to a person.  Counts of a released table remain a channel of at
    most that many values (docs/intake.md)."""
    api, _, _ = env
    def table(rows: int) -> bytes:
        return ("area,men,women\n" + "".join(f"area {i},{20 + i % 7},{30 + i % 5}\n"
                                             for i in range(rows))).encode()
    r = declared_count(api, "a.csv", table(1000))
    assert r.status_code == 201 and r.json()["state"] == "released", r.text[:2000]
    r = declared_count(api, "b.csv", table(1001))
    assert r.json()["state"] == "in_review"
    assert any("2,002 cells" in x["message"] for x in r.json()["decision"]["reasons"])


def test_label_findings_name_the_place_never_the_identifier(env: Any) -> None:
    api, _, _ = env
    r = declared_count(api, "by_region.csv", f"region,count\n{REC},25\nSouth,30\n".encode())
    req = r.json()
    assert req["state"] == "rejected" and req["files"][0]["verdict"] == "fail"
    reasons = [x["message"] for x in req["decision"]["reasons"]]
    assert any(m.startswith("the label in row 1, column 1: an NHS number") for m in reasons)
    assert "9434765919" not in r.text and "john.smith" not in r.text and "SW1A" not in r.text
    assert req["files"][0]["alternative"] is None  # suppressing cells would keep the labels


def test_a_label_longer_than_the_bound_goes_to_a_person(env: Any) -> None:
    api, _, _ = env
    long = "a region whose name goes on " + "and on " * 8  # 84 characters, no digits
    assert len(long) == 84
    r = declared_count(api, "c.csv", f"region,count\n{long},25\nSouth,30\n".encode())
    req = r.json()
    assert req["state"] == "in_review" and req["files"][0]["verdict"] == "escalate"
    assert any("the label in row 1, column 1 is longer than the 80 characters" in x["message"]
               for x in req["decision"]["reasons"])




# ---- F4: notebook text the checker is shown only in part ---------------------------------
def _nb(cells: list[dict[str, Any]]) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": cells}).encode()


def test_identifiers_in_notebook_outputs_fail_the_notebook(env: Any) -> None:
    api, _, _ = env
    nb = _nb([{"cell_type": "code", "id": "a", "metadata": {}, "source": "show()",
               "execution_count": 1, "outputs": [{"output_type": "display_data", "metadata": {},
                                                  "data": {"text/plain": REC}}]}])
    r = api.submit("alice", [("n.ipynb", nb)], context="the analysis notebook")
    assert r.status_code == 201
    f = r.json()["files"][0]
    assert f["verdict"] == "fail", f"a notebook output holding {REC!r}: {f['verdict']}"


def test_a_notebook_cell_longer_than_the_review_page_shows_is_not_released(env: Any) -> None:
    """The review page cuts a cell's source at 100,000 characters ("... (cut here)"); the
    canonical copy keeps the whole source, so what follows is released unseen."""
    api, _, _ = env
    hidden = words(records(200))
    source = "# analysis\n" + ("x = 1\n" * 17000) + "# " + hidden
    nb = _nb([{"cell_type": "code", "id": "a", "metadata": {}, "source": source,
               "execution_count": None, "outputs": []}])
    r = api.submit("alice", [("n.ipynb", nb)], context="the analysis notebook")
    assert r.status_code in (201, 413, 422), r.text
    if r.status_code == 201:
        req = r.json()
        f = req["files"][0]
        v = api.vote("carol", req["id"], f["id"], "approve")
        assert v.status_code == 200
        b = api.bundle("alice", req["id"])
        assert b.status_code == 200, b.text
        import zipfile
        released = zipfile.ZipFile(io.BytesIO(b.content)).read("files/n.ipynb")
        assert hidden[:200].encode() not in released, \
            "text past the review page's 100,000-character cut was released"



# ---- F: PNG pixels a viewer does not show --------------------------------------------------
def _released_png(api: Any, data: bytes) -> bytes:
    import zipfile

    r = api.submit("alice", [("fig.png", data)], context="a figure of patients by region")
    assert r.status_code == 201, r.text
    req = r.json()
    assert api.vote("carol", req["id"], req["files"][0]["id"], "approve").status_code == 200
    b = api.bundle("alice", req["id"])
    assert b.status_code == 200, b.text
    return zipfile.ZipFile(io.BytesIO(b.content)).read("files/fig.png")


def test_colours_under_almost_transparent_pixels_do_not_survive(env: Any) -> None:
    """Alpha 1/255 is invisible on any background; the canonical copy keeps the colour of
    every pixel that is not *fully* transparent, so 3 bytes a pixel leave unseen."""
    from PIL import Image

    api, _, _ = env
    payload = records(40)
    n = (len(payload) + 2) // 3
    side = int(n ** 0.5) + 1
    im = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    px = payload + b"\0" * (side * side * 3 - len(payload))
    im.putdata([(px[3 * i], px[3 * i + 1], px[3 * i + 2], 1) for i in range(side * side)])
    b = io.BytesIO()
    im.save(b, "PNG")
    out = Image.open(io.BytesIO(_released_png(api, b.getvalue()))).convert("RGBA")
    carried = bytes(  # RGB of each RGBA pixel
        v for i, v in enumerate(out.tobytes()) if i % 4 != 3)
    assert payload[:200] not in carried, "records released in the colours of invisible pixels"



def test_a_long_cell_is_refused_with_a_sentence(env: Any) -> None:
    api, _, _ = env
    source = "x = 1\n" * 16667  # 100,002 characters: 2 more than the review page shows
    nb = _nb([{"cell_type": "code", "id": "a", "metadata": {}, "source": source,
               "execution_count": None, "outputs": []}])
    r = api.submit("alice", [("n.ipynb", nb)], context="the analysis notebook")
    assert r.status_code == 422, r.text
    assert "cell 1 has 100,002 characters, more than the 100,000 the review page shows" \
        in r.text
    ok = _nb([{"cell_type": "code", "id": "a", "metadata": {}, "source": "x = 1\n" * 16666,
               "execution_count": None, "outputs": []}])  # 99,996 characters: shown whole
    assert api.submit("alice", [("n.ipynb", ok)], context="notebook").status_code == 201


def test_notebook_findings_name_the_cell_output_and_line(env: Any) -> None:
    api, _, _ = env
    nb = _nb([{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Results"},
              {"cell_type": "code", "id": "a", "metadata": {}, "source": "show()",
               "execution_count": 1, "outputs": [
                   {"output_type": "stream", "name": "stdout", "text": "counts\n" + REC}]}])
    r = api.submit("alice", [("n.ipynb", nb)], context="the analysis notebook")
    f = r.json()["files"][0]
    assert f["verdict"] == "fail" and r.json()["state"] == "rejected"
    reasons = [x["message"] for x in r.json()["decision"]["reasons"]]
    assert "cell 2, output 1, line 2: an NHS number (10 digits with a valid check digit); " \
        "remove it before exporting." in reasons, reasons
    assert "9434765919" not in json.dumps(r.json()["decision"])
    clean = _nb([{"cell_type": "code", "id": "a", "metadata": {}, "source": "print(n)",
                  "execution_count": 1, "outputs": [
                      {"output_type": "stream", "name": "stdout", "text": "1,204 patients\n"}]}])
    r = api.submit("alice", [("c.ipynb", clean)], context="the analysis notebook")
    assert r.json()["files"][0]["verdict"] == "escalate"


def test_short_word_encoded_labels_are_bounded_in_total(env: Any) -> None:
    """The 180 labels of the records test cut to 79 characters each (under the length
    bound) and 1,000 rows (2,000 cells, at the cell bound): 79,000 characters of words,
    over the 16,000 characters of labels a released table may carry: 1,000 x 79 and the
    headers region, men, women (6 + 3 + 5) = 79,014."""
    api, _, _ = env
    text = words(records(3000))
    labels = [text[i * 79:(i + 1) * 79] for i in range(1000)]
    assert all(len(lab) == 79 for lab in labels)
    body = "region,men,women\n" + "".join(f"{lab},{20 + i % 9},{25 + i % 4}\n"
                                          for i, lab in enumerate(labels))
    r = declared_count(api, "regions.csv", body.encode())
    assert r.json()["state"] == "in_review", r.text[:2000]
    assert any("add up to 79,014 characters, more than the 16,000" in x["message"]
               for x in r.json()["decision"]["reasons"])
