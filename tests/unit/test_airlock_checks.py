"""Checking one file: tables with and without evidence, notebooks' embedded outputs,
uncheckable kinds, safe alternatives, the project's profile over the sidecar's."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import statbarn as sb
from airlock.checks import CheckRefused, CheckRunner, Subject
from airlock.filetypes import Kind
from airlock.notebooks import extract, parse_text_table
from statbarn.checking import load_sidecar
from tests import hostile
from tests.harness.airlock import failing_table, patients, safe_table

pytestmark = pytest.mark.unit
DEFAULT = sb.load_profile("default")
STRICT = sb.load_profile("strict")


def runner(tmp: Path, profile: sb.Profile = DEFAULT, limit: int = 1 << 20) -> CheckRunner:
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    return CheckRunner(profile, [], limit, work)


def subject(path: Path, kind: Kind, side: Path | None = None) -> Subject:
    return Subject(path, path.name, kind, load_sidecar(side) if side else None, side)


def test_table_with_evidence_uses_the_projects_profile(tmp_path: Path) -> None:
    path, side = safe_table(tmp_path)
    assert runner(tmp_path).run(subject(path, Kind.CSV, side)).verdict == "pass"
    # the sidecar says "default"; the project's strict profile (min 20) decides
    counts = pd.read_csv(path, index_col=0)
    res = runner(tmp_path, STRICT).run(subject(path, Kind.CSV, side))
    expected = "fail" if (counts.to_numpy() < 20).any() else "pass"
    assert res.verdict == expected
    assert res.records[0].result["profile"] == {"name": "strict", "version": "1"}


def test_failing_table_gets_a_checked_safe_alternative(tmp_path: Path) -> None:
    path, side = failing_table(tmp_path)
    res = runner(tmp_path).run(subject(path, Kind.CSV, side))
    assert res.verdict == "fail"
    assert any("(Islands, F)" in r for r in res.reasons)
    alt = res.alternative
    assert alt is not None and alt.verdict == "pass" and alt.suppressed >= 1
    again = runner(tmp_path).run(subject(alt.csv_path, Kind.CSV, alt.sidecar_path))
    assert again.verdict == "pass"


def test_bare_count_table(tmp_path: Path) -> None:
    ok = tmp_path / "ok.csv"
    ok.write_text("region,F,M\nNorth,25,31\nSouth,40,18\n")
    # whole numbers alone are not counts: undeclared, a person looks
    res = runner(tmp_path).run(subject(ok, Kind.CSV))
    assert res.verdict == "escalate" and res.records[0].evidence is None
    counts = dataclasses.replace(subject(ok, Kind.CSV), statistic="count")
    res = runner(tmp_path).run(counts)
    assert res.verdict == "pass" and res.records[0].evidence is not None
    bad = tmp_path / "bad.csv"
    bad.write_text("region,F,M\nNorth,25,3\nSouth,40,18\n")
    res = runner(tmp_path).run(dataclasses.replace(subject(bad, Kind.CSV), statistic="count"))
    assert res.verdict == "fail" and res.alternative is not None
    assert res.alternative.verdict == "pass"


def test_tables_statbarn_will_not_judge_escalate_and_broken_ones_are_refused(
    tmp_path: Path
) -> None:
    text = tmp_path / "listing.csv"
    text.write_text("region,note\nNorth,fine\nSouth,ok\n")
    assert runner(tmp_path).run(subject(text, Kind.CSV)).verdict == "escalate"
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2,3\n")
    with pytest.raises(CheckRefused, match="line 2"):
        runner(tmp_path).run(subject(ragged, Kind.CSV))
    big = tmp_path / "big.csv"
    big.write_text("region,n\n" + "".join(f"r{i},{i + 20}\n" for i in range(2000)))
    res = runner(tmp_path, limit=1000).run(subject(big, Kind.CSV))
    assert res.verdict == "escalate" and "too large" in res.reasons[0]


@pytest.mark.parametrize("kind", [Kind.PDF, Kind.TEXT, Kind.MARKDOWN, Kind.JSON, Kind.XLSX])
def test_uncheckable_kinds_escalate(tmp_path: Path, kind: Kind) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"whatever")
    res = runner(tmp_path).run(subject(path, kind))
    assert res.verdict == "escalate" and res.reasons and res.canonical is None


@pytest.mark.parametrize(("kind", "data"), [(Kind.PNG, hostile.png_bytes()),
                                            (Kind.JPEG, hostile.jpeg_plain())])
def test_images_escalate_as_their_canonical_copy(tmp_path: Path, kind: Kind, data: bytes
                                                 ) -> None:
    path = tmp_path / "x"
    path.write_bytes(data)
    res = runner(tmp_path).run(subject(path, kind))
    assert res.verdict == "escalate" and res.reasons
    assert res.canonical is not None and res.canonical.path.read_bytes()[:2] == data[:2]


def test_svg_and_unreadable_images_are_refused(tmp_path: Path) -> None:
    svg = tmp_path / "x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with pytest.raises(CheckRefused, match="as PNG") as err:
        runner(tmp_path).run(subject(svg, Kind.SVG))
    assert err.value.status == 422 and err.value.code == "hidden_content"
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # no header to read a size from
    with pytest.raises(CheckRefused, match="does not say how large"):
        runner(tmp_path).run(subject(png, Kind.PNG))


def test_sidecar_only_for_delimited_tables(tmp_path: Path) -> None:
    _, side = safe_table(tmp_path)
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(CheckRefused, match="only for CSV"):
        runner(tmp_path).run(Subject(png, "p.png", Kind.PNG, load_sidecar(side), side))


def notebook(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "source": "x", "outputs": outputs,
                       "metadata": {}, "execution_count": 1}]}


def test_notebook_outputs_are_extracted_and_checked(tmp_path: Path) -> None:
    df = patients()
    table = pd.crosstab(df.region, df.sex)
    small = table.copy()
    small.iloc[0, 0] = 3
    png = base64.b64encode(hostile.png_bytes()).decode()
    nb = notebook([
        {"output_type": "execute_result", "data": {"text/plain": repr(table),
                                                    "text/html": table.to_html()},
         "metadata": {}, "execution_count": 1},
        {"output_type": "stream", "name": "stdout", "text": repr(small)},
        {"output_type": "display_data", "data": {"image/png": png}, "metadata": {}},
    ])
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps(nb))
    res = runner(tmp_path).run(subject(path, Kind.NOTEBOOK))
    subjects = [r.subject for r in res.records]
    assert subjects == ["file", "cell 1, output 1", "cell 1, output 2", "cell 1, output 3"]
    verdicts = [r.verdict for r in res.records]
    assert verdicts == ["escalate", "pass", "fail", "escalate"]
    assert res.verdict == "fail"
    assert any(r.startswith("cell 1, output 2:") for r in res.reasons)


def test_parse_text_table() -> None:
    df = pd.DataFrame({"F": [25, 40], "M": [31, 18]}, index=pd.Index(["North", "South"],
                                                                      name="region"))
    parsed = parse_text_table(repr(df))
    assert parsed is not None and parsed.shape == (2, 3)
    series = parse_text_table(repr(df["F"]))
    assert series is not None and list(series["value"]) == [25.0, 40.0]
    assert parse_text_table("hello world\nthis is text") is None
    assert parse_text_table(repr(pd.DataFrame({"a": range(100)}))) is None  # truncated


def test_extract_ignores_junk() -> None:
    assert list(extract({"cells": [1, {"outputs": [None, {"output_type": "error"}]}]})) == []


def test_html_tables_without_optional_parsers() -> None:
    from airlock.notebooks import _html_tables

    df = patients()
    table = pd.crosstab(df.region, df.sex)
    for html in (table.to_html(), table.reset_index().to_html(index=False)):
        (frame,) = _html_tables(html)
        assert list(frame.columns) == ["label", "F", "M"] and len(frame) == 4
    assert _html_tables("<table><tr><td>text</td><td>more</td></tr></table>") == []
    assert _html_tables("<p>no table</p>") == []


def test_refusals_and_results_survive_pickling(tmp_path: Path) -> None:
    """Checks may run in a worker process: a refusal keeps its status and code, and a
    result its canonical copy."""
    import pickle

    err = pickle.loads(pickle.dumps(CheckRefused("too many pixels", 413, "image_too_large")))
    assert (str(err), err.status, err.code) == ("too many pixels", 413, "image_too_large")
    path = tmp_path / "x.png"
    path.write_bytes(hostile.png_text("tEXt"))
    res = pickle.loads(pickle.dumps(runner(tmp_path).run(subject(path, Kind.PNG))))
    assert res.canonical is not None and res.canonical.path.is_file()
    assert res.canonical.removed and res.verdict == "escalate"


def test_labels_too_long_to_scan_fail_the_table() -> None:
    """9 MB of labels (more than the 8 MB statbarn.text scans): failed unscanned, with
    the size in MB; and 5,000 rows of one count (5,000 cells) also go over the bound."""
    import pandas as pd

    from airlock.labels import LABELS, RELEASE_CELLS, label_checks
    from statbarn.profile import Profile

    frame = pd.DataFrame({"area": ["a" * 1800 + str(i) for i in range(5000)],
                          "n": [20] * 5000})
    checks = {c.rule: c for c in label_checks(frame, Profile())}
    assert checks[LABELS].verdict.value == "fail"
    assert "8.6 MB of text, more than the 8 MB" in checks[LABELS].summary
    assert checks[RELEASE_CELLS].verdict.value == "escalate"
    assert "5,000 cells, more than the 2,000" in checks[RELEASE_CELLS].summary
