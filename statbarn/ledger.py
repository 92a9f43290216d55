"""A released table as the disclosure ledger remembers it: variables, categories, counts.

The airlock stores one :class:`LedgerTable` (as JSON) for every released table,
per project and dataset; :mod:`statbarn.differencing` checks new tables against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from statbarn.errors import EvidenceError
from statbarn.evidence import TableEvidence
from statbarn.records import RecordSets

Labels = tuple[tuple[str, ...], ...]
IntArray = NDArray[np.int64]


def _s(x: Any) -> str:
    x = x.item() if hasattr(x, "item") else x
    if isinstance(x, float) and x.is_integer():
        return str(int(x))  # 1.0 and 1 are one category
    return "" if x is None or (isinstance(x, float) and x != x) else str(x)


def _labels(raw: Sequence[Any], levels: int) -> Labels:
    return tuple(tuple(_s(v) for v in x) if isinstance(x, (tuple, list))
                 else (_s(x),) * min(levels, 1) for x in raw)


@dataclass(frozen=True, eq=False)
class LedgerTable:
    """One released table as the ledger remembers it (compared by identity).

    ``row_labels[i]`` / ``col_labels[j]``: one string per variable of
    ``row_var`` / ``col_var`` (a one-way table has ``col_var == ()`` and one
    column labelled ``()``).  ``counts``: the body's contributor counts.
    ``published``: the body cells shown (``None``: all); ``row_totals`` /
    ``col_totals``: per row / column, whether its total was shown (``()``: no
    totals); ``grand_total``: the corner was shown.
    """

    release_id: str
    dataset: str | None
    population: str | None
    statistic: str
    row_var: tuple[str, ...]
    col_var: tuple[str, ...]
    row_labels: Labels
    col_labels: Labels
    counts: IntArray
    published: NDArray[np.bool_] | None = None
    row_totals: tuple[bool, ...] = ()
    col_totals: tuple[bool, ...] = ()
    grand_total: bool = False
    # The records behind each body cell (statbarn.records' JSON form): server side only.
    records: dict[str, Any] | None = None
    # How the researcher knows the release: its request's title, the file, the date.
    title: str | None = None
    file_name: str | None = None
    released_at: str | None = None
    _cache: Any = field(default=None, init=False, repr=False)
    _sets: Any = field(default=None, init=False, repr=False)
    _shape: Any = field(default=None, init=False, repr=False)  # statbarn.populations'

    def __post_init__(self) -> None:
        put = object.__setattr__
        counts = np.asarray(self.counts)
        counts = counts.reshape(-1, 1) if counts.ndim == 1 else counts
        for name in ("row_var", "col_var"):
            put(self, name, tuple(_s(v) for v in getattr(self, name)))
        put(self, "row_labels", _labels(self.row_labels, len(self.row_var)))
        put(self, "col_labels", _labels(self.col_labels or [()], len(self.col_var)))
        shape = (len(self.row_labels), len(self.col_labels))
        bad = [msg for msg, wrong in [
            (f"counts have shape {counts.shape}, the labels {shape}", counts.shape != shape),
            ("counts must be whole and not negative",
             counts.size and (counts.min() < 0 or not np.all(counts == np.round(counts)))),
            ("a label has the wrong number of parts",
             any(len(x) != len(self.row_var) for x in self.row_labels)
             or any(len(x) != len(self.col_var) for x in self.col_labels)),
            ("a variable appears twice", len(set(self.variables)) < len(self.variables)),
            ("totals do not match the shape", len(self.row_totals) not in (0, shape[0])
             or len(self.col_totals) not in (0, shape[1])),
            ("the published mask does not match the shape",
             self.published is not None and np.shape(self.published) != shape),
        ] if wrong]
        if bad:
            raise EvidenceError(f"ledger table {self.release_id!r}: {'; '.join(bad)}")
        put(self, "counts", counts.astype(np.int64))
        if self.published is not None:
            put(self, "published", np.asarray(self.published, dtype=bool))
        for name in ("row_totals", "col_totals"):
            put(self, name, tuple(bool(x) for x in getattr(self, name)))

    @property
    def variables(self) -> tuple[str, ...]:
        return self.row_var + self.col_var

    def record_sets(self) -> RecordSets | None:
        """The decoded record sets (checked against the counts), or None."""
        if self.records is None:
            return None
        if self._sets is None:
            sets = RecordSets.from_json(self.records, self.counts.size,
                                        int(self.counts.sum()))
            if not np.array_equal(sets.cell_counts(), self.counts.ravel()):
                raise EvidenceError(f"ledger table {self.release_id!r}: the record sets do "
                                    "not hold the cells' counts")
            object.__setattr__(self, "_sets", sets)
        return self._sets  # type: ignore[no-any-return]

    def labelled(self, title: str | None, file_name: str | None,
                 released_at: str | None) -> LedgerTable:
        """The same table, with the names a researcher knows the release by."""
        return replace(self, title=title, file_name=file_name, released_at=released_at)

    @classmethod
    def from_evidence(
        cls, ev: TableEvidence, release_id: str, dataset: str | None = None,
        population: str | None = None, suppressed: NDArray[np.bool_] | None = None,
    ) -> LedgerTable:
        """The body of ``ev``; its margins are dropped and kept as published totals.

        ``suppressed``: evidence-shaped mask of the cells not shown (as in
        ``SuppressionResult.suppressed``); by default every cell was shown.
        """
        rows, cols = ev.body_slice()
        shown = np.ones(ev.shape, bool) if suppressed is None else ~np.asarray(suppressed, bool)
        if shown.shape != ev.shape:
            raise EvidenceError(f"suppressed mask has shape {shown.shape}, not {ev.shape}")
        col_var, body_cols = [_s(n) for n in ev.column_names], list(ev.col_labels[cols])
        if col_var in ([], [""]) and len(body_cols) == 1:
            col_var, body_cols = [], [()]
        elif col_var == [""]:
            # A bare CSV's header holds the column variable's categories, not its name:
            # the categories stand for it, so two unnamed column variables are one only
            # when they have the same categories (F, M and 0-15, 16+ are not compared).
            col_var = ["[columns " + ", ".join(sorted({_s(c) for c in body_cols})) + "]"]
        nr, nc = len(ev.row_labels[rows]), len(body_cols)
        return cls(
            release_id, dataset, population, ev.statistic,
            tuple(_s(n) for n in ev.index_names) or ("",), tuple(col_var),
            _labels(ev.row_labels[rows], max(len(ev.index_names), 1)),
            _labels(body_cols, len(col_var)), ev.count[rows, cols],
            None if suppressed is None else shown[rows, cols],
            tuple(shown[:nr, -1]) if ev.row_margin else (),
            tuple(shown[-1, :nc]) if ev.col_margin else (),
            bool(ev.row_margin and ev.col_margin and shown[-1, -1]),
            ev.records,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id, "dataset": self.dataset,
            "population": self.population, "statistic": self.statistic,
            "row_var": list(self.row_var), "col_var": list(self.col_var),
            "row_labels": [list(x) for x in self.row_labels],
            "col_labels": [list(x) for x in self.col_labels], "counts": self.counts.tolist(),
            "published": None if self.published is None else self.published.tolist(),
            "row_totals": list(self.row_totals), "col_totals": list(self.col_totals),
            "grand_total": self.grand_total,
            **({"records": self.records} if self.records is not None else {}),
            **{k: v for k, v in (("title", self.title), ("file_name", self.file_name),
                                 ("released_at", self.released_at)) if v is not None},
        }

    @classmethod
    def from_json(cls, d: Any) -> LedgerTable:
        try:
            published = d.get("published")
            return cls(
                str(d["release_id"]), d.get("dataset"), d.get("population"), str(d["statistic"]),
                tuple(d["row_var"]), tuple(d["col_var"]),
                tuple(tuple(x) for x in d["row_labels"]), tuple(tuple(x) for x in d["col_labels"]),
                np.asarray(d["counts"], dtype=np.int64),
                None if published is None else np.asarray(published, dtype=bool),
                tuple(d.get("row_totals", ())), tuple(d.get("col_totals", ())),
                bool(d.get("grand_total", False)), d.get("records"),
                *(None if d.get(k) is None else str(d[k])[:500]
                  for k in ("title", "file_name", "released_at")),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"ledger entry is malformed: {exc}") from None
