"""The researcher's API: pandas-compatible tables that carry their own verdict.

``sb.crosstab`` and ``sb.pivot_table`` take pandas' arguments, compute the
table pandas would publish, the per-cell evidence, and every rule that applies;
``out.save(path)`` writes the CSV and its evidence sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statbarn import aggregate as agg
from statbarn.alternatives import safe_alternative
from statbarn.errors import EmptyInputError, InputError, TableTooLargeError, UnsupportedError
from statbarn.evidence import TableEvidence
from statbarn.fileio import atomic_write_bytes, sha256_bytes
from statbarn.kinds import normalise_aggfunc, statbarn_of
from statbarn.profile import Profile, load_profile
from statbarn.records import build as build_records
from statbarn.records import record_ids
from statbarn.result import STATBARN_VERSION, AssessedOutput, Assessment
from statbarn.rules import check_table
from statbarn.verdict import Verdict

SIDECAR_SUFFIX = ".statbarn.json"
SIDECAR_FORMAT = "statbarn-evidence"


@dataclass
class TableOutput(AssessedOutput):
    """A table ready to publish, with its evidence and verdict."""

    table: pd.DataFrame
    evidence: TableEvidence
    assessment: Assessment
    profile: Profile
    suppressed: np.ndarray | None = None
    derived_from: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def statbarn(self) -> str:
        return self.assessment.statbarn.value

    def __repr__(self) -> str:
        return (
            f"<statbarn table {self.evidence.statistic}: {self.verdict}, {len(self.flags)} flag(s)>"
        )

    def _repr_html_(self) -> str:  # notebooks
        flags = "".join(f"<li>{_html(f.message)}</li>" for f in self.flags[:50])
        return (
            f"<p><b>verdict: {self.verdict}</b> ({self.profile.name} v{self.profile.version})</p>"
            f"{self.table.to_html()}<ul>{flags}</ul>"
        )

    def sidecar(self, csv_bytes: bytes, name: str) -> dict[str, Any]:
        ev = self.evidence.to_json()
        if self.suppressed is not None:
            ev["suppressed"] = self.suppressed.astype(bool).tolist()
        if "rounding_base" in self.meta:
            ev["rounding_base"] = int(self.meta["rounding_base"])
        return {
            "format": SIDECAR_FORMAT,
            "format_version": 1,
            "statbarn_version": STATBARN_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "file": {"name": name, "sha256": sha256_bytes(csv_bytes)},
            "kind": "table",
            "statbarn": self.statbarn,
            "statistic": self.evidence.statistic,
            "layout": {
                "index_levels": max(len(self.evidence.index_names), 1),
                "column_levels": max(len(self.evidence.column_names), 1),
            },
            "profile": {**self.profile.summary(), "params": self.profile.params()},
            "derived_from": self.derived_from,
            "table": ev,
            "result": self.assessment.to_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the CSV and ``<path>.statbarn.json``; returns the sidecar path."""
        path = Path(path)
        csv_bytes = self.table.to_csv().encode("utf-8")
        atomic_write_bytes(path, csv_bytes)
        side = path.with_name(path.name + SIDECAR_SUFFIX)
        payload = json.dumps(self.sidecar(csv_bytes, path.name), indent=1, allow_nan=False)
        atomic_write_bytes(side, payload.encode("utf-8"))
        return side

    def safe_alternative(self, method: str = "suppress") -> TableOutput:
        """A separate output with unsafe cells suppressed (and protected) or rounded."""
        alt = safe_alternative(self.table, self.evidence, self.assessment, self.profile, method)
        return replace(self, table=alt.table, assessment=alt.assessment,
                       suppressed=alt.suppressed, derived_from=method, meta=dict(alt.meta))


def _html(text: str) -> str:
    import html

    return html.escape(text)


def _as_series(obj: Any, default_name: str, n: int | None) -> pd.Series:
    if isinstance(obj, pd.Series):
        return obj
    arr = np.asarray(obj)
    if arr.ndim != 1:
        raise InputError(f"{default_name}: expected a one-dimensional array of keys")
    return pd.Series(arr, name=default_name)


def _key_list(obj: Any, prefix: str, names: Sequence[Any] | None) -> list[pd.Series]:
    if isinstance(obj, pd.Series) or (isinstance(obj, np.ndarray) and obj.ndim == 1):
        items: list[Any] = [obj]
    elif isinstance(obj, (list, tuple)) and obj and not np.isscalar(obj[0]):
        items = list(obj)
    else:
        items = [obj]
    series = [_as_series(o, f"{prefix}_{i}", None) for i, o in enumerate(items)]
    if names is not None:
        if len(names) != len(series):
            raise InputError(f"{prefix}names has {len(names)} names for {len(series)} keys")
        series = [s.rename(nm) for s, nm in zip(series, names, strict=True)]
    return series


def _align(series: list[pd.Series]) -> list[pd.Series]:
    """Keys and values pair up by index, as in pandas; positions when indexes agree."""
    first = series[0]
    if all(s.index is first.index or s.index.equals(first.index) for s in series[1:]):
        return series
    if any(not s.index.is_unique for s in series):
        raise InputError(
            "keys and values have different, non-unique indexes; pass columns of one DataFrame"
        )
    frame = pd.concat(series, axis=1, join="inner", keys=range(len(series)))
    out = [frame[i] for i in range(len(series))]
    for col, s in zip(out, series, strict=True):
        col.name = s.name
    return out


def _build_frame(values: np.ndarray, ev: TableEvidence, col_is_values: Any) -> pd.DataFrame:
    def make_index(labels: list[Any], names: list[Any]) -> pd.Index:
        if len(names) > 1:
            multi: pd.Index = pd.MultiIndex.from_tuples(labels, names=names)
            return multi
        flat: pd.Index = pd.Index(labels, name=names[0] if names else None)
        return flat

    index = make_index(ev.row_labels, ev.index_names)
    if ev.column_names:
        columns = make_index(ev.col_labels, ev.column_names)
    else:
        columns = pd.Index([col_is_values])
    frame = pd.DataFrame(values, index=index, columns=columns)
    if ev.statistic in ("count", "size") and not np.isnan(values).any():
        frame = frame.astype(np.int64)
    return frame


def tabulate(
    index: list[pd.Series],
    columns: list[pd.Series] | None,
    values: pd.Series | None,
    aggfunc: Any,
    *,
    margins: bool,
    margins_name: str,
    dropna: bool,
    profile: Profile | str | None,
    values_label: Any = None,
) -> TableOutput:
    prof = load_profile(profile)
    statistic = "count" if values is None else normalise_aggfunc(aggfunc)
    parts = _align(index + (columns or []) + ([values] if values is not None else []))
    idx_keys, rest = parts[: len(index)], parts[len(index) :]
    col_keys = rest[: len(columns)] if columns else None
    vals = rest[-1] if values is not None else None
    if dropna:
        # pandas drops a record missing any key before it finds the table's levels.
        missing = np.zeros(len(idx_keys[0]), dtype=bool)
        for key in idx_keys + (col_keys or []):
            missing |= key.isna().to_numpy()
        if missing.any():
            keep = ~missing
            idx_keys = [k[keep] for k in idx_keys]
            col_keys = [k[keep] for k in col_keys] if col_keys else None
            vals = vals[keep] if vals is not None else None
    if len(idx_keys[0]) == 0:
        raise EmptyInputError("there are no records to tabulate")
    row_axis = agg.encode_axis(idx_keys, [s.name for s in idx_keys], dropna)
    col_axis = agg.encode_axis(col_keys, [s.name for s in col_keys], dropna) if col_keys else None
    if row_axis.size == 0 or (col_axis is not None and col_axis.size == 0):
        raise EmptyInputError("no record has a value for every key: the table would be empty")
    cells = row_axis.size * (col_axis.size if col_axis else 1)
    if cells > prof.max_table_cells:
        raise TableTooLargeError(
            f"the table would have {cells} cells; the profile allows at most "
            f"{prof.max_table_cells} (max_table_cells)"
        )
    arr = agg.numeric_values(vals) if vals is not None else None
    result = agg.aggregate(
        row_axis,
        col_axis,
        arr,
        statistic,
        margins=margins,
        margins_name=margins_name,
        profile=prof,
        dropna=dropna,
    )
    ev = result.evidence
    values_grid = result.values
    body_rows, body_cols = np.arange(row_axis.size), np.arange(col_axis.size if col_axis else 1)
    if dropna and vals is not None:
        values_grid, ev, body_rows, body_cols = _drop_empty(values_grid, ev)
    ev.records = _records(idx_keys[0].index, row_axis, col_axis, arr, body_rows, body_cols)
    label = (
        values_label if values_label is not None else (vals.name if vals is not None else "count")
    )
    frame = _build_frame(values_grid, ev, label)
    assessment = Assessment(
        statbarn=statbarn_of(statistic),
        checks=check_table(ev, prof),
        profile=prof,
        statistic=statistic,
    )
    return TableOutput(table=frame, evidence=ev, assessment=assessment, profile=prof)


def _records(index: pd.Index, row: agg.Axis, col: agg.Axis | None, values: np.ndarray | None,
             body_rows: np.ndarray, body_cols: np.ndarray) -> dict[str, Any] | None:
    """Which records each body cell holds (statbarn.records), from the rows' index."""
    ids = record_ids(index)
    if ids is None:
        return None
    ccode = col.codes if col is not None else np.zeros_like(row.codes)
    mine = (row.codes >= 0) & (ccode >= 0)
    if values is not None:
        mine &= ~np.isnan(values)
    # Rows and columns dropped as empty hold no contributor, so every one maps.
    rmap = np.full(row.size, -1, np.int64)
    rmap[body_rows] = np.arange(len(body_rows))
    cmap = np.full(col.size if col is not None else 1, -1, np.int64)
    cmap[body_cols] = np.arange(len(body_cols))
    cells = rmap[row.codes[mine]] * len(body_cols) + cmap[ccode[mine]]
    return build_records(ids[mine], cells, len(body_rows) * len(body_cols)).to_json()


def _drop_empty(values: np.ndarray, ev: TableEvidence
                ) -> tuple[np.ndarray, TableEvidence, np.ndarray, np.ndarray]:
    """pandas' dropna=True: rows whose body cells are all empty vanish, then columns
    that are all empty (margins included)."""
    rs, cs = ev.body_slice()
    empty = np.isnan(values)
    keep_r = ~empty[rs, cs].all(axis=1)
    if ev.col_margin:
        keep_r = np.append(keep_r, True)
    if not keep_r[: rs.stop].any():
        raise EmptyInputError("no record has a value to tabulate: every cell would be empty")
    rows = np.flatnonzero(keep_r)
    body_rows = rows[rows < rs.stop]
    # Body columns with no value vanish before margins are added (pandas drops the empty
    # groups first); the margin column goes only if it is empty too.
    keep_c = ~empty[body_rows].all(axis=0)
    if ev.row_margin:
        keep_c[-1] = not empty[rows, -1].all()
    cols = np.flatnonzero(keep_c)
    kept_r, kept_c = body_rows, cols[cols < cs.stop]
    if len(rows) == values.shape[0] and len(cols) == values.shape[1]:
        return values, ev, kept_r, kept_c
    return values[np.ix_(rows, cols)], ev.subset(rows, cols), kept_r, kept_c


def crosstab(
    index: Any,
    columns: Any,
    values: Any = None,
    rownames: Sequence[Any] | None = None,
    colnames: Sequence[Any] | None = None,
    aggfunc: Any = None,
    margins: bool = False,
    margins_name: str = "All",
    dropna: bool = True,
    normalize: bool | str = False,
    *,
    profile: Profile | str | None = None,
) -> TableOutput:
    """Like :func:`pandas.crosstab`, with evidence and a verdict."""
    if normalize:
        raise UnsupportedError(
            "normalize is not supported: publish the counts and let "
            "readers compute proportions from checked cells"
        )
    if (values is None) != (aggfunc is None):
        raise InputError("values and aggfunc must be given together (as in pandas)")
    idx = _key_list(index, "row", rownames)
    cols = _key_list(columns, "col", colnames)
    vals = None if values is None else _as_series(values, "values", None)
    return tabulate(
        idx,
        cols,
        vals,
        aggfunc,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        profile=profile,
    )


def pivot_table(
    data: pd.DataFrame,
    values: Any = None,
    index: Any = None,
    columns: Any = None,
    aggfunc: Any = "mean",
    fill_value: Any = None,
    margins: bool = False,
    dropna: bool = True,
    margins_name: str = "All",
    observed: bool = True,
    sort: bool = True,
    *,
    profile: Profile | str | None = None,
) -> TableOutput:
    """Like :meth:`pandas.DataFrame.pivot_table` for one values column, with a verdict."""
    if fill_value is not None:
        raise UnsupportedError(
            "fill_value is not supported: a filled cell would hide an empty (disclosive) one"
        )
    if not sort:
        raise UnsupportedError("sort=False is not supported")

    def cols_of(spec: Any, what: str) -> list[pd.Series]:
        if spec is None:
            return []
        names = [spec] if isinstance(spec, (str, int)) or np.isscalar(spec) else list(spec)
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InputError(f"{what}: no column named {', '.join(map(repr, missing))}")
        return [data[n] for n in names]

    idx = cols_of(index, "index")
    if not idx:
        raise InputError("pivot_table needs at least one index column")
    cols = cols_of(columns, "columns") or None
    if values is None:
        raise InputError("pivot_table needs a values column")
    if not isinstance(values, (str, int)):
        vlist = list(values)
        if len(vlist) != 1:
            raise UnsupportedError(
                "statbarn checks one values column per table; make one table per variable"
            )
        values = vlist[0]
    vals = cols_of(values, "values")[0]
    # pandas' "count" pivot counts the non-missing values, which tabulate keeps as values.
    return tabulate(
        idx,
        cols,
        vals,
        aggfunc,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        profile=profile,
        values_label=values,
    )


def assessment_for(ev: TableEvidence, profile: Profile, file: str | None = None) -> Assessment:
    return Assessment(
        statbarn=statbarn_of(ev.statistic),
        checks=check_table(ev, profile),
        profile=profile,
        statistic=ev.statistic,
        file=file,
    )


__all__ = ["SIDECAR_SUFFIX", "TableOutput", "Verdict", "assessment_for", "crosstab", "pivot_table"]
