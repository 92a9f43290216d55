"""From microdata to a published table and its evidence, on whole columns.

Group keys are factorised once into integer codes; every per-cell quantity
(count, total, largest contributions, negatives, the statistic itself) is a
``bincount`` or ``ufunc.at`` over those codes.  Margins are derived from the
cells where the statistic allows it, and recomputed on row/column codes where
it does not (medians, spreads, modes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from statbarn import exact
from statbarn.errors import InputError, NonNumericError, TableTooLargeError
from statbarn.evidence import TableEvidence
from statbarn.profile import Profile

MAX_CELLS = 10_000_000  # grids beyond this cannot be published sensibly anyway


@dataclass
class Axis:
    """One table axis: per-record codes (-1 = record dropped) and the level labels."""

    codes: np.ndarray
    labels: list[Any]
    names: list[Any]

    @property
    def size(self) -> int:
        return len(self.labels)


def encode_axis(keys: Sequence[pd.Series], names: Sequence[Any], dropna: bool) -> Axis:
    """Sorted observed combinations of the keys, like pandas groupby(sort=True)."""
    per_key: list[tuple[np.ndarray, list[Any]]] = []
    for key in keys:
        if isinstance(key.dtype, pd.CategoricalDtype):
            cat = key.cat
            codes = cat.codes.to_numpy().astype(np.int64)
            levels = list(cat.categories)
            if not dropna and (codes < 0).any():
                codes = np.where(codes < 0, len(levels), codes)
                levels.append(np.nan)
        else:
            codes_raw, uniques = pd.factorize(key, sort=True, use_na_sentinel=dropna)
            codes = np.asarray(codes_raw, dtype=np.int64)
            levels = list(uniques)
        per_key.append((codes, levels))
    if len(per_key) == 1:
        codes, levels = per_key[0]
        # Categorical levels keep all categories (pandas crosstab shows them);
        # factorised levels are exactly those observed.
        return Axis(codes, levels, list(names))
    valid = np.ones(len(per_key[0][0]), dtype=bool)
    combined = np.zeros(len(valid), dtype=np.int64)
    for codes, levels in per_key:
        valid &= codes >= 0
        combined = combined * max(len(levels), 1) + np.maximum(codes, 0)
    observed, inverse = np.unique(combined[valid], return_inverse=True)
    out = np.full(len(valid), -1, dtype=np.int64)
    out[valid] = inverse
    labels = []
    for value in observed.tolist():
        parts = []
        for _codes, levels in reversed(per_key):
            n = max(len(levels), 1)
            parts.append(levels[value % n])
            value //= n
        labels.append(tuple(reversed(parts)))
    return Axis(out, labels, list(names))


def numeric_values(values: pd.Series) -> np.ndarray:
    """The aggregated variable as float64; refuses text and infinities."""
    if values.dtype == bool:
        return values.to_numpy(dtype=np.float64)
    if not (pd.api.types.is_numeric_dtype(values.dtype)):
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            example = values[bad].iloc[0]
            raise NonNumericError(
                f"the values column '{values.name}' holds text ({example!r}); "
                "a magnitude table needs numbers"
            )
        values = converted
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(arr).any():
        raise InputError(f"the values column '{values.name}' holds infinite values")
    return arr


def top_contributions(cell: np.ndarray, ncell: int, v: np.ndarray, n_top: int) -> np.ndarray:
    """The n_top largest values per cell (descending, 0-padded), shape (ncell, n_top)."""
    top = np.zeros((ncell, max(n_top, 2)), dtype=np.float64)
    if len(v) == 0:
        return top
    if n_top <= 2:
        # Two O(n) passes instead of a sort: max, then max of the rest; a tie at
        # the top means the second largest equals the largest.
        t1 = np.full(ncell, -np.inf)
        np.maximum.at(t1, cell, v)
        is_top = v == t1[cell]
        ties = np.bincount(cell[is_top], minlength=ncell)
        t2 = np.full(ncell, -np.inf)
        np.maximum.at(t2, cell, np.where(is_top, -np.inf, v))
        t2 = np.where(ties >= 2, t1, t2)
        top[:, 0] = np.where(np.isfinite(t1), t1, 0.0)
        top[:, 1] = np.where(np.isfinite(t2), t2, 0.0)
        return top
    order = np.lexsort((-v, cell))
    sc, sv = cell[order], v[order]
    starts = np.searchsorted(sc, np.arange(ncell))
    rank = np.arange(len(sc)) - starts[sc]
    keep = rank < top.shape[1]
    top[sc[keep], rank[keep]] = sv[keep]
    return top


def _merge_top(tops: np.ndarray, n: int) -> np.ndarray:
    """Largest n among several cells' top lists: tops shape (..., m) -> (..., n)."""
    part = -np.sort(-tops, axis=-1)
    return part[..., :n]


def _group_stat(codes: np.ndarray, ngroups: int, v: np.ndarray, statistic: str) -> np.ndarray:
    """A position/shape/mode statistic per group, NaN for groups without values."""
    out = np.full(ngroups, np.nan)
    if len(v) == 0:
        return out
    s = pd.Series(v)
    g = s.groupby(codes, sort=True)
    if statistic == "median":
        res = g.median()
    elif statistic == "std":
        res = g.std(ddof=1)
    elif statistic == "var":
        res = g.var(ddof=1)
    elif statistic == "mode":
        freq = pd.DataFrame({"g": codes, "v": v}).value_counts().reset_index(name="n")
        freq = freq.sort_values(["g", "n", "v"], ascending=[True, False, True])
        res = freq.drop_duplicates("g").set_index("g")["v"]
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(statistic)
    out[res.index.to_numpy(dtype=np.int64)] = res.to_numpy(dtype=np.float64)
    return out


@dataclass
class Aggregate:
    """Published values and evidence for a grid, margins included."""

    values: np.ndarray
    evidence: TableEvidence


def aggregate(
    row: Axis,
    col: Axis | None,
    values: np.ndarray | None,
    statistic: str,
    *,
    margins: bool,
    margins_name: str,
    profile: Profile,
    dropna: bool = True,
) -> Aggregate:
    nr, nc = row.size, (col.size if col is not None else 1)
    if nr * nc > MAX_CELLS:
        raise TableTooLargeError(f"a table of {nr} x {nc} cells is too large to check")
    valid = row.codes >= 0
    ccode = col.codes if col is not None else np.zeros_like(row.codes)
    valid &= ccode >= 0
    cell_all = row.codes * nc + ccode
    records = np.bincount(cell_all[valid], minlength=nr * nc).reshape(nr, nc)
    if values is None:
        vmask = valid
        v = np.ones(int(valid.sum()))
    else:
        vmask = valid & ~np.isnan(values)
        v = values[vmask]
    cell = cell_all[vmask]
    ncell = nr * nc
    count = np.bincount(cell, minlength=ncell).reshape(nr, nc)

    magnitude = values is not None and statistic not in ("count", "size")
    total = top = negative = None
    if magnitude:
        total = np.bincount(cell, weights=v, minlength=ncell).reshape(nr, nc)
        top = top_contributions(cell, ncell, v, profile.nk_n).reshape(nr, nc, -1)
        negative = (np.bincount(cell[v < 0], minlength=ncell) > 0).reshape(nr, nc)

    pub = _published(statistic, count, records, total, cell, ncell, v, nr, nc)
    if values is not None and statistic in ("count", "size"):
        pub = np.where(records > 0, pub, np.nan)  # pandas: no records, no count

    row_labels, col_labels = list(row.labels), list(col.labels) if col is not None else [None]
    if margins:
        rcode, ccode_v = row.codes[vmask], ccode[vmask]
        # pandas computes margins after dropping records with a missing value (dropna).
        mrec = count if dropna else records
        mr = _margin_values(
            statistic,
            count.sum(1),
            mrec.sum(1),
            None if total is None else total.sum(1),
            rcode,
            nr,
            v,
        )
        mc = _margin_values(
            statistic,
            count.sum(0),
            mrec.sum(0),
            None if total is None else total.sum(0),
            ccode_v,
            nc,
            v,
        )
        ma = _margin_values(
            statistic,
            np.array([count.sum()]),
            np.array([mrec.sum()]),
            None if total is None else np.array([total.sum()]),
            np.zeros(len(v), dtype=np.int64),
            1,
            v,
        )
        if not dropna:
            # pandas groups margins with dropna=True even then: a missing key's margin is
            # empty (NaN); in a count table the total row shows 0 for it instead.
            hole = np.nan if values is not None else 0.0
            mr = np.where(_missing_labels(row), np.nan, mr)
            if col is not None:
                mc = np.where(_missing_labels(col), hole, mc)
        if values is not None and statistic in ("count", "size"):
            mr = np.where(mrec.sum(1) > 0, mr, np.nan)
            mc = np.where(mrec.sum(0) > 0, mc, np.nan)
            ma = np.where(mrec.sum() > 0, ma, np.nan)
        add_row_margin = col is not None
        pub, count = (
            _with_margins(pub, mr, mc, ma, add_row_margin),
            _with_margins(
                count, count.sum(1), count.sum(0), np.array([count.sum()]), add_row_margin
            ),
        )
        if total is not None and top is not None and negative is not None:
            total = _with_margins(
                total, total.sum(1), total.sum(0), np.array([total.sum()]), add_row_margin
            )
            n = top.shape[-1]
            top = _with_margins_3d(top, n, add_row_margin)
            negative = _with_margins(
                negative,
                np.asarray(negative.any(1)),
                np.asarray(negative.any(0)),
                np.array([negative.any()]),
                add_row_margin,
            )
        row_labels = [*row_labels, _margin_label(margins_name, len(row.names))]
        if add_row_margin:
            assert col is not None
            col_labels = [*col_labels, _margin_label(margins_name, len(col.names))]
    ev = TableEvidence(
        statistic=statistic,
        row_labels=row_labels,
        col_labels=col_labels,
        count=count.astype(np.int64),
        total=total,
        top=top,
        negative=negative,
        row_margin=margins and col is not None,
        col_margin=margins,
        index_names=list(row.names),
        column_names=list(col.names) if col is not None else [],
    )
    if magnitude:
        _add_exact_totals(ev, profile, row, col, vmask, values)
    return Aggregate(values=pub, evidence=ev)


def _missing_labels(axis: Axis) -> np.ndarray:
    def missing(label: Any) -> bool:
        parts = label if isinstance(label, tuple) else (label,)
        return any(p is None or (isinstance(p, float) and p != p) for p in parts)

    return np.array([missing(x) for x in axis.labels], dtype=bool)


def _margin_label(name: str, levels: int) -> Any:
    return name if levels <= 1 else (name,) + ("",) * (levels - 1)


def _published(
    statistic: str,
    count: np.ndarray,
    records: np.ndarray,
    total: np.ndarray | None,
    cell: np.ndarray,
    ncell: int,
    v: np.ndarray,
    nr: int,
    nc: int,
) -> np.ndarray:
    shape = (nr, nc)
    if statistic in ("count", "size"):
        return count.astype(np.float64)
    if statistic == "sum":
        assert total is not None
        return np.where(records > 0, total, np.nan)
    if statistic == "mean":
        assert total is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if statistic in ("min", "max"):
        out = np.full(ncell, np.inf if statistic == "min" else -np.inf)
        (np.minimum if statistic == "min" else np.maximum).at(out, cell, v)
        return np.where(count.ravel() > 0, out, np.nan).reshape(shape)
    return _group_stat(cell, ncell, v, statistic).reshape(shape)


def _margin_values(
    statistic: str,
    count: np.ndarray,
    records: np.ndarray,
    total: np.ndarray | None,
    codes: np.ndarray,
    ngroups: int,
    v: np.ndarray,
) -> np.ndarray:
    return _published(
        statistic,
        count.reshape(-1, 1),
        records.reshape(-1, 1),
        None if total is None else total.reshape(-1, 1),
        codes,
        ngroups,
        v,
        ngroups,
        1,
    ).ravel()


def _with_margins(
    body: np.ndarray,
    row_tot: np.ndarray,
    col_tot: np.ndarray,
    grand: np.ndarray,
    add_row_margin: bool,
) -> np.ndarray:
    if add_row_margin:
        top = np.concatenate([body, row_tot.reshape(-1, 1)], axis=1)
        bottom = np.concatenate([col_tot.reshape(1, -1), grand.reshape(1, 1)], axis=1)
    else:  # a one-way table: only the total row
        top, bottom = body, grand.reshape(1, 1)
    return np.concatenate([top, bottom.astype(top.dtype)], axis=0)


def _with_margins_3d(top: np.ndarray, n: int, add_row_margin: bool) -> np.ndarray:
    nr, nc, _ = top.shape
    rows = _merge_top(top.reshape(nr, nc * n), n)
    cols = _merge_top(top.transpose(1, 0, 2).reshape(nc, nr * n), n)
    grand = _merge_top(top.reshape(1, nr * nc * n), n)
    if add_row_margin:
        upper = np.concatenate([top, rows[:, None, :]], axis=1)
        lower = np.concatenate([cols[None, :, :], grand[None, :, :]], axis=1)
    else:
        upper, lower = top, grand[None, :, :]
    return np.concatenate([upper, lower], axis=0)


def boundary_cells(ev: TableEvidence, profile: Profile) -> np.ndarray:
    """Grid positions whose NK or p% decision sits within the float band of its limit."""
    assert ev.total is not None and ev.top is not None
    top_n = ev.top[..., : profile.nk_n].sum(axis=-1)
    nk_margin = top_n - profile.nk_k * ev.total
    top1, top2 = ev.top[..., 0], ev.top[..., 1]
    p_margin = (ev.total - top1 - top2) - profile.p_ratio * top1
    near = (exact.near(nk_margin, ev.total) & (top_n > 0)) | (
        exact.near(p_margin, np.maximum(ev.total, top1)) & (top1 > 0)
    )
    return np.argwhere(near)


def _add_exact_totals(
    ev: TableEvidence,
    profile: Profile,
    row: Axis,
    col: Axis | None,
    vmask: np.ndarray,
    values: np.ndarray | None,
) -> None:
    if values is None:
        return
    nr_body = row.size
    nc_body = col.size if col is not None else 1
    ccodes = col.codes if col is not None else np.zeros_like(row.codes)
    for r, c in boundary_cells(ev, profile):
        sel = vmask.copy()
        if r < nr_body:
            sel &= row.codes == r
        if c < nc_body:
            sel &= ccodes == c
        ev.exact_total[(int(r), int(c))] = str(exact.exact_sum(values[sel].tolist()))
