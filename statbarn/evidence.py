"""Per-cell evidence: what the rules need, without the microdata.

A :class:`TableEvidence` is a grid (body plus margins) of contributor counts,
totals, the largest contributions and whether any contribution is negative.
It is what the researcher's session computes, what the sidecar carries and
what the airlock re-checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from statbarn.errors import EvidenceError


@dataclass
class TableEvidence:
    """Evidence for every published cell of a 2-D table (margins included).

    ``row_margin``: the last column holds row totals.  ``col_margin``: the
    last row holds column totals.  ``top[..., i]`` is the (i+1)-th largest
    contribution (0 where the cell has fewer contributors).
    """

    statistic: str
    row_labels: list[Any]
    col_labels: list[Any]
    count: np.ndarray
    total: np.ndarray | None = None
    top: np.ndarray | None = None
    negative: np.ndarray | None = None
    row_margin: bool = False
    col_margin: bool = False
    # Decimal strings of totals for cells whose decision sits at a rule boundary,
    # summed exactly from the contributions (key: (row, col) grid position).
    exact_total: dict[tuple[int, int], str] = field(default_factory=dict)
    index_names: list[Any] = field(default_factory=list)
    column_names: list[Any] = field(default_factory=list)
    # The records behind each body cell (statbarn.records' JSON form), when known.
    records: dict[str, Any] | None = None
    # Why a sidecar's record sets were set aside (they did not hold the counts, or could
    # not be decoded): the evidence is then inconsistent, which escalates.
    records_problem: str | None = None

    def __post_init__(self) -> None:
        shape = (len(self.row_labels), len(self.col_labels))
        if self.count.shape != shape:
            raise EvidenceError(f"evidence counts have shape {self.count.shape}, expected {shape}")
        for name in ("total", "negative"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != shape:
                raise EvidenceError(f"evidence '{name}' has shape {arr.shape}, expected {shape}")
        if self.top is not None and self.top.shape[:2] != shape:
            raise EvidenceError(f"evidence 'top' has shape {self.top.shape}, expected {shape}")

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.row_labels), len(self.col_labels))

    @property
    def has_contributions(self) -> bool:
        return self.total is not None and self.top is not None and self.negative is not None

    def body_slice(self) -> tuple[slice, slice]:
        r, c = self.shape
        return (
            slice(0, r - 1 if self.col_margin else r),
            slice(0, c - 1 if self.row_margin else c),
        )

    def is_margin(self) -> np.ndarray:
        """Boolean grid: True for margin cells."""
        mask = np.zeros(self.shape, dtype=bool)
        if self.row_margin:
            mask[:, -1] = True
        if self.col_margin:
            mask[-1, :] = True
        return mask

    def subset(self, rows: np.ndarray, cols: np.ndarray) -> TableEvidence:
        """The evidence of the kept rows and columns (integer positions, margins last)."""
        grid = np.ix_(rows, cols)
        kept = {(r, c) for r in rows.tolist() for c in cols.tolist()}
        r_pos = {int(r): i for i, r in enumerate(rows.tolist())}
        c_pos = {int(c): j for j, c in enumerate(cols.tolist())}
        return TableEvidence(
            statistic=self.statistic,
            row_labels=[self.row_labels[i] for i in rows.tolist()],
            col_labels=[self.col_labels[j] for j in cols.tolist()],
            count=self.count[grid],
            total=None if self.total is None else self.total[grid],
            top=None if self.top is None else self.top[rows][:, cols],
            negative=None if self.negative is None else self.negative[grid],
            row_margin=self.row_margin,
            col_margin=self.col_margin,
            exact_total={
                (r_pos[r], c_pos[c]): v for (r, c), v in self.exact_total.items() if (r, c) in kept
            },
            index_names=self.index_names,
            column_names=self.column_names,
        )

    # ---- sidecar serialisation -------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        cells: dict[str, Any] = {"count": self.count.astype(np.int64).tolist()}
        if self.has_contributions:
            assert self.total is not None and self.top is not None and self.negative is not None
            cells["sum"] = _floats(self.total)
            cells["top"] = _floats(self.top)
            cells["negative"] = self.negative.astype(bool).tolist()
            cells["exact_sum"] = {f"{r},{c}": v for (r, c), v in sorted(self.exact_total.items())}
        return {
            "statistic": self.statistic,
            "rows": [_label(x) for x in self.row_labels],
            "cols": [_label(x) for x in self.col_labels],
            "index_names": [_label(x) for x in self.index_names],
            "column_names": [_label(x) for x in self.column_names],
            "row_margin": self.row_margin,
            "col_margin": self.col_margin,
            "cells": cells,
            **({"records": self.records} if self.records is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> TableEvidence:
        try:
            cells = data["cells"]
            rows = [_unlabel(x) for x in data["rows"]]
            cols = [_unlabel(x) for x in data["cols"]]
            count = np.asarray(cells["count"], dtype=np.int64).reshape(len(rows), len(cols))
            total = top = negative = None
            exact: dict[tuple[int, int], str] = {}
            if "sum" in cells:
                total = np.asarray(cells["sum"], dtype=np.float64).reshape(count.shape)
                top = np.asarray(cells["top"], dtype=np.float64)
                if top.ndim != 3:
                    raise ValueError("'top' must be rows x cols x N")
                negative = np.asarray(cells["negative"], dtype=bool).reshape(count.shape)
                for key, value in dict(cells.get("exact_sum", {})).items():
                    r, c = (int(p) for p in str(key).split(","))
                    exact[(r, c)] = str(value)
            if (count < 0).any():
                raise ValueError("negative contributor counts")
            return cls(
                statistic=str(data["statistic"]),
                row_labels=rows,
                col_labels=cols,
                count=count,
                total=total,
                top=top,
                negative=negative,
                row_margin=bool(data.get("row_margin", False)),
                col_margin=bool(data.get("col_margin", False)),
                exact_total=exact,
                index_names=list(data.get("index_names", [])),
                column_names=list(data.get("column_names", [])),
                **_checked_records(data.get("records"), count, data),
            )
        except EvidenceError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"evidence table is malformed: {exc}") from None


def _checked_records(records: Any, count: np.ndarray, data: Any) -> dict[str, Any]:
    """The record sets, when they hold exactly the body's counts; else none, and why (the
    evidence is then inconsistent and escalates, as a doctored sidecar does)."""
    if records is None:
        return {}
    from statbarn.records import RecordSets

    rows = count.shape[0] - (1 if data.get("col_margin") else 0)
    cols = count.shape[1] - (1 if data.get("row_margin") else 0)
    body = count[:rows, :cols]
    try:
        # The declared count must be the body's total before a byte is decoded.
        sets = RecordSets.from_json(records, body.size, round(float(body.sum())))
    except EvidenceError as exc:
        return {"records_problem": str(exc)}
    if not np.array_equal(sets.cell_counts(), body.ravel()):
        return {"records_problem": "the record sets do not hold the cells' counts"}
    return {"records": dict(records)}


def _floats(arr: np.ndarray) -> Any:
    # JSON has no NaN/inf; evidence never needs them (empty cells hold 0).
    return np.where(np.isfinite(arr), arr, 0.0).tolist()


def _label(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_label(v) for v in x]
    if x is None or (isinstance(x, float) and x != x):
        return None
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def _unlabel(x: Any) -> Any:
    return tuple(_unlabel(v) for v in x) if isinstance(x, list) else x
