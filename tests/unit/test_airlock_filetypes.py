"""File types from content, refusals with reasons, spreadsheet formula injection."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pandas as pd
import pytest

from airlock.filetypes import Kind, Refused, detect, looks_like_formula
from tests import hostile

pytestmark = pytest.mark.unit

PNG = hostile.png_bytes()
JPEG = hostile.jpeg_plain()
NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}


def write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def kind(tmp: Path, name: str, data: bytes | str) -> Kind:
    return detect(write(tmp, name, data), name, max_parse_bytes=1 << 20).kind


def refused(tmp: Path, name: str, data: bytes | str) -> str:
    with pytest.raises(Refused) as err:
        kind(tmp, name, data)
    return str(err.value)


def xlsx_bytes(cells: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for row in cells:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("t.csv", "region,F,M\nNorth,25,31\n", Kind.CSV),
    ("t.tsv", "region\tF\nNorth\t25\n", Kind.TSV),
    ("notes.md", "# Results\n\nAll good.\n", Kind.MARKDOWN),
    ("notes.txt", "plain words\n", Kind.TEXT),
    ("data.json", '{"a": 1}', Kind.JSON),
    ("nb.ipynb", json.dumps(NOTEBOOK), Kind.NOTEBOOK),
    ("plot.png", PNG, Kind.PNG),
    ("photo.jpg", JPEG, Kind.JPEG),
    ("doc.pdf", hostile.pdf_plain(), Kind.PDF),
    ("noext", "region,F\nNorth,25\nSouth,30\n", Kind.CSV),  # no extension: content decides
])
def test_allowed_kinds(tmp_path: Path, name: str, data: bytes | str, expected: Kind) -> None:
    assert kind(tmp_path, name, data) is expected


def test_parquet_and_xlsx(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    assert detect(tmp_path / "t.parquet", "t.parquet", max_parse_bytes=1 << 20).kind is Kind.PARQUET
    assert kind(tmp_path, "t.xlsx", xlsx_bytes([["region", "n"], ["North", 12]])) is Kind.XLSX


def test_content_wins_over_the_extension(tmp_path: Path) -> None:
    assert "is png" in refused(tmp_path, "table.csv", PNG)
    assert "content is csv" in refused(tmp_path, "evil.png", "a,b\n1,2\n")


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("a.zip", _zip({"a.csv": b"a\n1\n"}), "zip archive"),
    ("a.csv", _zip({"a.csv": b"a\n1\n"}), "zip archive"),
    ("a.xlsx", _zip({"[Content_Types].xml": b"", "xl/workbook.xml": b"",
                     "xl/vbaProject.bin": b""}), "macros"),
    ("a.tar", _tar(), "tar archive"),
    ("a.gz", gzip.compress(b"hello"), "gzip"),
    ("a.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 20, "7-Zip"),
    ("a.bin", b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "executable"),
    ("a.txt", b"MZ\x90\x00" + b"\x00" * 40, "Windows executable"),
    ("run.txt", "#!/bin/sh\nrm -rf /\n", "script"),
    ("page.txt", "<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
    # SVG is refused (it can hide text and run scripts; no safe rasteriser): said as such,
    # not as "HTML" (an SVG with a script was called HTML before)
    ("x.svg", "<svg><script>alert(1)</script></svg>", "SVG drawing with a script"),
    ("fig.svg", '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
     "Save the figure as PNG"),
    ("doc.pdf", b"%PDF-1.7\n%...", "no end-of-file marker"),
    ("blob.txt", b"\x00\x01\x02binary", "binary"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
    ("utf16.txt", "hello".encode("utf-16"), "UTF-16"),
    ("a.docx", b"PK\x03\x04garbage", "damaged zip"),
    # named for what it is, with the export that can leave (was "a zip archive; submit the
    # files inside it")
    ("report.docx", _zip({"[Content_Types].xml": b"", "word/document.xml": b""}),
     "is a Word document, which cannot be exported as it is"),
    ("run.py", "print('hi')\n", "cannot be exported"),
    ("bad.json", "{not json", "not valid JSON"),
    ("bad.ipynb", '{"cells": 3}', "not a Jupyter notebook"),
    ("trunc.parquet", b"PAR1" + b"\x00" * 20, "truncated"),
    ("empty.csv", b"", "empty"),
])
def test_refused_with_reason(tmp_path: Path, name: str, data: bytes | str, reason: str) -> None:
    assert reason in refused(tmp_path, name, data)


@pytest.mark.parametrize(("cell", "formula"), [
    ("=1+1", True), ("+SUM(A1)", True), ("-2+3", True), ("@cmd", True),
    ("=HYPERLINK(\"http://x\")", True), ("-", True), ("  =x", True),
    ("-5", False), ("+3.25", False), ("-1e3", False), ("North", False), ("", False),
    ("a=b", False),
])
def test_formula_detection(cell: str, formula: bool) -> None:
    assert looks_like_formula(cell) is formula


def test_formula_label_is_refused_naming_the_cell(tmp_path: Path) -> None:
    msg = refused(tmp_path, "t.csv", "region,F,M\nNorth,25,31\n=cmd|' /C calc'!A0,3,4\n")
    assert "row 3" in msg and "'region'" in msg and "=cmd" in msg
    assert "rename the label" in msg


def test_negative_numbers_are_fine(tmp_path: Path) -> None:
    assert kind(tmp_path, "t.csv", "region,change\nNorth,-25\nSouth,+3.5\n") is Kind.CSV


def test_tsv_and_xlsx_formulas_refused(tmp_path: Path) -> None:
    assert "@SUM" in refused(tmp_path, "t.tsv", "a\tb\n@SUM(1)\t2\n")
    msg = refused(tmp_path, "t.xlsx", xlsx_bytes([["region", "n"], ["North", "=1+2"]]))
    assert "Sheet!B2" in msg


def test_csv_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    assert "not a valid delimited table" in refused(tmp_path, "t.csv", 'a,"b\n' + "x" * 200_000)
