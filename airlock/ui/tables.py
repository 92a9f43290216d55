"""A stored table as the review page shows it: every cell as text, the flagged
cells marked with their reasons, and each cell's evidence summary.

Cells are shown exactly as they are in the file (no number formatting): the
checker judges what would leave.  Flags and evidence name cells by their row
and column labels (statbarn's JSON); they are matched to the file's cells by
label, compared as text, so a label written ``3`` in the file and ``3`` in the
JSON are one label.  The evidence summary is what a checker needs to judge
dominance (how many contributors, what share the largest hold), never the
individual contributions themselves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from airlock.ui.explain import Flag, key

MAX_CELLS = 25_000  # a 200 x 50 table is 10,000; beyond this, the first rows only
MAX_BYTES = 8 * 1024**2


@dataclass
class Grid:
    """A table ready for the page.  ``rows`` are the body rows as HTML, escaped here with
    markupsafe (the escaping Jinja uses) rather than looped over in the template: a
    page holds 20,000 cells, and one string per row is both faster to render and
    cheaper for the garbage collector than an object per cell.  ``texts`` keeps the
    cells' text (to compare a safe alternative with its original)."""

    head: list[list[str]]
    rows: list[Markup]
    texts: list[list[str]]
    hidden_rows: int = 0
    unplaced: list[Flag] = field(default_factory=list)
    flagged: int = 0
    suppressed: int = 0


class Evidence:
    """Evidence (statbarn's TableEvidence JSON) looked up by row and column label.

    Every cell's summary is computed once, with numpy, when first asked for: a
    200 x 50 table is 10,000 cells, and the page is on a checker's critical path."""

    def __init__(self, table: dict[str, Any] | None, nk_n: int = 2) -> None:
        self.table = table or {}
        self.nk_n = max(1, nk_n)
        self.rows = {key(r): i for i, r in enumerate(self.table.get("rows", []))}
        self.cols = {key(c): j for j, c in enumerate(self.table.get("cols", []))}
        self._texts: list[list[str]] | None = None

    @property
    def index_levels(self) -> int:
        return max(1, len(self.table.get("index_names") or [None]))

    @property
    def column_levels(self) -> int:
        return max(1, len(self.table.get("column_names") or [None]))

    def texts(self) -> list[list[str]]:
        if self._texts is None:
            try:
                self._texts = self._summaries()
            except (ValueError, TypeError, IndexError, KeyError):
                self._texts = []  # evidence we cannot read: no summaries, not a broken page
        return self._texts

    def _summaries(self) -> list[list[str]]:
        cells = self.table.get("cells") or {}
        if "count" not in cells:
            return []
        count = np.asarray(cells["count"], dtype=np.int64)
        if count.ndim != 2:
            return []
        plural = np.where(count == 1, "", "s")
        if "sum" not in cells or "top" not in cells:
            return [[f"{n:,} contributor{p}" for n, p in zip(row, prow, strict=True)]
                    for row, prow in zip(count.tolist(), plural.tolist(), strict=True)]
        total = np.asarray(cells["sum"], dtype=np.float64).reshape(count.shape)
        top = np.asarray(cells["top"], dtype=np.float64).reshape(*count.shape, -1)
        k = min(self.nk_n, top.shape[2])
        with np.errstate(divide="ignore", invalid="ignore"):
            first = np.where(total > 0, top[:, :, 0] / total, np.nan)
            largest = np.where(total > 0, top[:, :, :k].sum(axis=2) / total, np.nan)
        return [[f"{n:,} contributor{p}; largest {a:.1%} of the total, largest {k} {b:.1%}"
                 if a == a else f"{n:,} contributor{p}"
                 for n, p, a, b in zip(row, prow, arow, brow, strict=True)]
                for row, prow, arow, brow in zip(count.tolist(), plural.tolist(),
                                                 first.tolist(), largest.tolist(), strict=True)]

    def summary(self, i: int | None, j: int | None) -> str:
        texts = self.texts()
        if i is None or j is None or i >= len(texts) or j >= len(texts[i]):
            return ""
        return texts[i][j]


class Rows(list[list[str]]):
    """Parsed rows, and how many rows of the file were left unparsed (``more``)."""

    more: int = 0


def parse(data: bytes, kind: str, max_cells: int | None = MAX_CELLS) -> Rows:
    """The table's rows as strings (CSV, TSV or Parquet): only as many as the page
    shows (about ``max_cells`` cells, and a few rows of headers), not the whole file,
    so six checkers viewing an 8 MB table parse 25,000 cells each, not 8 MB each.
    ``more`` counts the rows not parsed (by line ends for CSV: a quoted line break
    counts as a row there)."""
    budget = max_cells if max_cells is not None else 1 << 62
    if kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(io.BytesIO(data))
        width = max(1, pf.metadata.num_columns)
        take = max(1, budget // width)
        batch = next(pf.iter_batches(batch_size=take), None)
        if batch is None:
            return Rows()
        frame = batch.to_pandas()
        if frame.index.name is not None or frame.index.nlevels > 1:
            frame = frame.reset_index()
        rows = Rows(csv.reader(io.StringIO(frame.to_csv(index=False))))
        rows.more = max(0, pf.metadata.num_rows - len(frame))
        return rows
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text), delimiter="\t" if kind == "tsv" else ",")
    rows, wanted = Rows(), 0
    for row in reader:
        if not rows:  # as many rows as build() can show (up to 3 index columns), and headers
            wanted = budget // max(1, len(row) - 3) + 8
        rows.append(row)
        if len(rows) >= wanted:
            break
    else:
        return rows
    end = 0  # where the lines the reader has read end (it reads the text by "\n")
    for _ in range(reader.line_num):
        end = text.find("\n", end) + 1
        if end == 0:
            return rows
    rows.more = text.count("\n", end) + (1 if not text.endswith("\n") else 0)
    return rows


def _td(text: str, css: str, anchor: str, title: str, said: str = "") -> str:
    """``said``: what the cell's colour and pattern mean, as text for screen readers
    (a title tooltip alone is neither read reliably nor shown to keyboard users)."""
    attrs = f' class="{css}"' if css else ""
    if anchor:  # internal: the file's anchor and two numbers
        attrs += f' id="{anchor}" tabindex="0" data-nav="cell"'
    if title:
        attrs += f' title="{escape(title)}"'
    extra = f'<span class="sr"> ({escape(said)})</span>' if said else ""
    return f"<td{attrs}>{escape(text)}{extra}</td>"


def build(rows: Sequence[list[str]], flags: Sequence[Flag], evidence: Evidence,
          anchor_prefix: str, *, original: Grid | None = None,
          max_cells: int = MAX_CELLS) -> Grid:
    """Split header and body, place the flags on their cells, add evidence summaries.
    With ``original`` (the table a safe alternative was made from, same layout), a cell
    blank here but not there is marked as suppressed."""
    if not rows:
        return Grid([], [], [], 0, list(flags))
    nidx, nhead = evidence.index_levels, evidence.column_levels
    head = [list(r) for r in rows[:nhead]]
    body = list(rows[nhead:])
    # pandas writes a row of index names under multi-level column headers
    if nhead > 1 and body and all(v == "" for v in body[0][nidx:]):
        head.append(list(body.pop(0)))
    width = max(len(r) for r in rows)
    col_keys = [tuple(h[c].strip() if c < len(h) else "" for h in head[:nhead])
                for c in range(nidx, width)]
    col_index = [evidence.cols.get(ck) for ck in col_keys] + [None]
    by_cell: dict[tuple[tuple[str, ...] | None, tuple[str, ...] | None], list[Flag]] = {}
    for f in flags:
        by_cell.setdefault((key(f.row), key(f.col)), []).append(f)
    placed: set[int] = set()
    limit = max(1, max_cells // max(1, width - nidx))
    grid = Grid(head, [], [], max(0, len(body) - limit) + getattr(rows, "more", 0))
    before = original.texts if original is not None else []
    for r, row in enumerate(body[:limit]):
        labels, values = row[:nidx], row[nidx:]
        rk = tuple(x.strip() for x in labels)
        i = evidence.rows.get(rk)
        was = before[r] if r < len(before) else []
        html = ["<tr>", *(f'<th scope="row">{escape(x)}</th>' for x in labels)]
        for c, text in enumerate(values):
            summary = evidence.summary(i, col_index[min(c, len(col_index) - 1)])
            found = by_cell.get((rk, col_keys[c] if c < len(col_keys) else None)) \
                if by_cell else None
            if found:
                anchor = f"{anchor_prefix}-r{r}-c{c}"
                worst = "fail" if any(f.verdict == "fail" for f in found) else "escalate"
                title = "\n".join([*(f"{f.rule_name}: {f.message}" for f in found),
                                   *([summary] if summary else [])])
                for f in found:
                    f.anchor, f.evidence = anchor, summary
                    placed.add(id(f))
                grid.flagged += 1
                said = ("fails: " if worst == "fail" else "needs a person: ") + \
                    ", ".join(dict.fromkeys(f.rule_name for f in found))
                html.append(_td(text, f"flag {worst}", anchor, title, said))
            elif c < len(was) and not text.strip() and was[c].strip():
                grid.suppressed += 1
                html.append(_td(text, "suppressed", "", "suppressed in the safe alternative",
                                "suppressed"))
            else:
                html.append(_td(text, "", "", summary))
        html.append("</tr>")
        grid.rows.append(Markup("".join(html)))
        grid.texts.append(values)
    grid.unplaced = [f for f in flags if id(f) not in placed]
    return grid
