"""The outputs embedded in a Jupyter notebook, extracted so they are checked like files.

A notebook that leaves the TRE carries its outputs: tables printed as text or
rendered as HTML, and images.  Each is pulled out here; tables go through the
same statbarn checks as a CSV (without evidence, so only counts can pass),
images escalate.  Text this module does not recognise as a table is not lost:
the notebook itself always escalates, so a person reads it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pandas as pd

MAX_OUTPUTS = 500
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Embedded:
    subject: str  # "cell 3, output 1"
    kind: str  # "table" or "image"
    frame: pd.DataFrame | None = None
    media_type: str | None = None
    size: int = 0


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def parse_text_table(text: str) -> pd.DataFrame | None:
    """A pandas DataFrame or Series as printed (``repr``), or None when it is not one.

    Conservative: every row must have the same number of fields and every value
    must be a number; truncated reprs (``...``) and labels with spaces are not
    recognised.
    """
    lines = [line.rstrip() for line in text.strip("\n").splitlines() if line.strip()]
    if len(lines) < 2 or any("..." in line for line in lines):
        return None
    if lines[-1].startswith(("Name:", "dtype:", "Length:", "Freq:")):  # a Series
        lines = [ln for ln in lines if not ln.startswith(("Name:", "dtype:", "Length:", "Freq:"))]
        rows = [ln.split() for ln in lines]
        if len(rows) < 2 or any(len(r) != 2 for r in rows[1:]):
            return None
        if len(rows[0]) == 1:  # the index name line
            rows = rows[1:]
        header: list[str] = ["value"]
    else:
        header = lines[0].split()
        rows = [ln.split() for ln in lines[1:]]
        if rows and len(rows[0]) == 1 and len(header) > 1:  # index name on its own line
            rows = rows[1:]
            if rows and all(len(r) == len(header) for r in rows):
                header = header[1:]  # the header line starts with the columns' name
        if not rows or any(len(r) != len(header) + 1 for r in rows):
            return None
    if any(not _NUMBER.match(v) for r in rows for v in r[1:]):
        return None
    frame = pd.DataFrame(
        [[r[0], *(float(v) for v in r[1:])] for r in rows], columns=["label", *header]
    )
    return frame


class _Tables(HTMLParser):
    """Rows of cell texts of every <table>, split into header (thead) and body rows.

    The standard library's parser, so the result does not depend on which of
    pandas' optional HTML back ends (lxml, bs4) happens to be installed.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[list[str]], list[list[str]]]] = []
        self._in_head = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            head, body = self.tables[-1]
            (head if self._in_head else body).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_tables(html: str) -> list[pd.DataFrame]:
    """pandas' ``DataFrame.to_html()`` tables (a label column, then numbers)."""
    if "<table" not in html.lower():
        return []
    parser = _Tables()
    try:
        parser.feed(html)
    except (ValueError, AssertionError):
        return []
    out = []
    for head, body in parser.tables:
        if not head or not body or any(len(r) != len(head[0]) for r in body):
            continue
        while len(head[0]) > 2 and all(r[0] == "" for r in body):  # a columns-name column
            head, body = [h[1:] for h in head], [r[1:] for r in body]
        if any(not _NUMBER.match(v) for r in body for v in r[1:]):
            continue
        columns = ["label", *(c or f"column {i}" for i, c in enumerate(head[0][1:], 1))]
        out.append(pd.DataFrame([[r[0], *(float(v) for v in r[1:])] for r in body],
                                columns=columns))
    return out


def extract(notebook: dict[str, Any]) -> Iterator[Embedded]:
    """Every table and image in the notebook's outputs, in order."""
    count = 0
    for i, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        for j, output in enumerate(cell.get("outputs") or []):
            if not isinstance(output, dict):
                continue
            count += 1
            if count > MAX_OUTPUTS:
                return
            subject = f"cell {i + 1}, output {j + 1}"
            yield from _from_output(subject, output)


def _from_output(subject: str, output: dict[str, Any]) -> Iterator[Embedded]:
    if output.get("output_type") == "stream":
        frame = parse_text_table(_text(output.get("text")))
        if frame is not None:
            yield Embedded(subject, "table", frame)
        return
    data = output.get("data")
    if not isinstance(data, dict):
        return
    for media in ("image/png", "image/jpeg", "image/svg+xml", "application/pdf"):
        if media in data:
            raw = _text(data[media])
            size = len(raw) if media == "image/svg+xml" else len(base64.b64decode(
                raw.encode(), validate=False))
            yield Embedded(subject, "image", media_type=media, size=size)
    tables = _html_tables(_text(data.get("text/html"))) if "text/html" in data else []
    if not tables and "text/plain" in data:
        frame = parse_text_table(_text(data["text/plain"]))
        tables = [frame] if frame is not None else []
    for k, frame in enumerate(tables):
        name = subject if len(tables) == 1 else f"{subject}, table {k + 1}"
        yield Embedded(name, "table", frame)
