"""Differencing findings, and what a researcher and a reviewer are shown of them.

A finding names the earlier releases by what their researcher knows them by
(the request's title, the file, the release date; the id last, for the review
page to look up), says which population the combination isolates and how many
records it leaves.  :func:`details` gives the structured data for display: the
earlier tables' cells beside the new one (never record ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from statbarn.ledger import LedgerTable

MAX_SHOWN_CELLS = 10_000  # an earlier table larger than this is named, not shown
MAX_SHOWN_TABLES = 10


@dataclass(frozen=True)
class DifferencingFinding:
    """A count below the threshold that this table and earlier releases give away."""

    earlier_release_id: str
    kind: str  # nested_population, margin_difference, category_difference/_merge,
    # complement, union, overlap
    derived_cell: str  # e.g. "region=North, age=16-17"
    derived_value: int
    limit: int
    message: str
    related_release_ids: tuple[str, ...] = ()  # further earlier releases used
    row: Any = None  # the derived cell in this table's terms ("All" where summed out)
    col: Any = None
    # The cells combined: (release id or "" for this table, {variable: label}, count, sign).
    terms: tuple[tuple[str, dict[str, str], int, int], ...] = ()


def name_of(t: LedgerTable) -> str:
    """An earlier release as its researcher knows it: title, file and date (and its id,
    which the review page looks up)."""
    known = [f"\u201c{t.title}\u201d" if t.title else "", t.file_name or "",
             f"released {t.released_at[:10]}" if t.released_at else ""]
    said = ", ".join(k for k in known if k)
    return f"{said} (release {t.release_id})" if said else f"release {t.release_id}"


def _grid(t: LedgerTable) -> dict[str, Any]:
    shown = None if t.published is None else t.published.tolist()
    counts = [[None if shown is not None and not shown[i][j] else int(v)
               for j, v in enumerate(row)] for i, row in enumerate(t.counts.tolist())]
    return {"row_var": list(t.row_var), "col_var": list(t.col_var),
            "rows": [list(x) for x in t.row_labels], "cols": [list(x) for x in t.col_labels],
            "counts": counts}


def details(new: LedgerTable, earlier: Sequence[LedgerTable],
            findings: Sequence[DifferencingFinding]) -> dict[str, Any]:
    """JSON for display: each earlier release (name, file, date, its cells: counts of
    contributors, None where a cell was not shown) and each finding's terms."""
    tables = []
    for t in earlier[:MAX_SHOWN_TABLES]:
        entry: dict[str, Any] = {"release_id": t.release_id, "title": t.title,
                                 "file": t.file_name, "released_at": t.released_at,
                                 "name": name_of(t), "statistic": t.statistic,
                                 "population": t.population}
        if t.counts.size <= MAX_SHOWN_CELLS:
            entry["table"] = _grid(t)
        tables.append(entry)
    return {
        "earlier": tables,
        "findings": [{"kind": f.kind, "population": f.derived_cell, "leaves": f.derived_value,
                      "limit": f.limit, "row": f.row, "col": f.col,
                      "releases": [f.earlier_release_id, *f.related_release_ids],
                      "terms": [{"release_id": r or None, "cell": cell, "count": n, "sign": s}
                                for r, cell, n, s in f.terms]}
                     for f in findings[:200]],
        "new_table": _grid(new) if new.counts.size <= MAX_SHOWN_CELLS else None,
    }


__all__ = ["DifferencingFinding", "details", "name_of"]
