"""Differencing across releases: a new table checked against the disclosure ledger.

A new table escalates when, with one earlier release (two for a complement), it
gives away a count in ``1 .. min_count - 1``.  Kinds of finding:
``nested_population`` / ``margin_difference`` (over the shared variables, the
others summed out, one table is cell by cell at most the other: the difference
counts the excluded subgroup, or the records added between two releases);
``category_difference`` (one population, a variable banded differently: exact
bounds on every interval between band boundaries); ``category_merge`` (one
population, categories merged as ``"A or B"`` or lumped as ``"Other"``: LP
bounds on each category); ``complement`` (release A minus this table minus
release B).  A category a table does not list counts as empty (pandas drops
them); hidden cells and published totals are honoured.  Not covered: four or
more tables at once, two variables rebanded in one pair, a rebanding together
with a change of population, non-additive statistics (means, medians), dominance
of derived sums.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from statbarn import bands
from statbarn.exact_differencing import exact_findings
from statbarn.findings import DifferencingFinding, details, name_of
from statbarn.ledger import Labels, LedgerTable
from statbarn.profile import Profile
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Cell = tuple[dict[int, str], int]  # {shared variable index: label}, derived count
# Tables of means count as sums: a mean times its contributor count is the total.
_FAMILY = {"count": "count", "size": "count", "frequency": "count", "sum": "sum", "mean": "sum"}


# ---- the arithmetic ---------------------------------------------------------------
@dataclass
class _View:
    table: LedgerTable
    labels: list[list[str]]  # distinct labels of each variable
    records: list[tuple[IntArray, FloatArray, NDArray[np.bool_]]]  # codes (-1: summed), n, shown


def _view(t: LedgerTable) -> _View:
    if t._cache is None:
        def codes(labels: Labels, n: int) -> tuple[list[list[str]], IntArray]:
            distinct = [list(dict.fromkeys(x[i] for x in labels)) for i in range(n)]
            idx = [{v: k for k, v in enumerate(d)} for d in distinct]
            return distinct, np.array([[idx[i][x[i]] for i in range(n)] for x in labels],
                                      dtype=np.int64).reshape(len(labels), n)
        rl, rc = codes(t.row_labels, len(t.row_var))
        cl, cc = codes(t.col_labels, len(t.col_var))
        (nr, nc), n = t.counts.shape, t.counts.astype(np.float64)
        shown = np.ones((nr, nc), bool) if t.published is None else t.published
        body = np.hstack([np.repeat(rc, nc, 0), np.tile(cc, (nr, 1))])
        parts: list[tuple[IntArray, Any, Any]] = [(body, n, shown)]
        if t.row_totals:
            parts.append((np.hstack([rc, np.full((nr, cc.shape[1]), -1)]), n.sum(1),
                          np.array(t.row_totals)))
        if t.col_totals:
            parts.append((np.hstack([np.full((nc, rc.shape[1]), -1), cc]), n.sum(0),
                          np.array(t.col_totals)))
        if t.grand_total:
            parts.append((np.full((1, rc.shape[1] + cc.shape[1]), -1), n.sum(), True))
        # One vector of counts per block of records, whatever the block's shape (the
        # corner is a single number): bincount takes nothing else.
        records = [(keys, np.ravel(count).astype(np.float64),
                    np.ravel(np.broadcast_to(seen, np.shape(count))).astype(bool))
                   for keys, count, seen in parts]
        for keys, count, seen in records:
            assert keys.shape[0] == count.shape[0] == seen.shape[0]
        object.__setattr__(t, "_cache", _View(t, rl + cl, records))
    return t._cache  # type: ignore[no-any-return]


@dataclass
class _Aligned:
    shared: list[str]  # variables all the tables have, sorted
    vars: list[bands.Alignment]
    special: int | None  # the variable the two tables partition differently


def _align(views: Sequence[_View], allow_special: bool) -> _Aligned | None:
    shared = sorted(set.intersection(*(set(v.table.variables) for v in views)))
    if not shared or len(shared) > 8:  # 2**8 aggregation levels at most
        return None
    al = [bands.align([v.labels[v.table.variables.index(var)] for v in views]) for var in shared]
    special = [k for k, a in enumerate(al) if a.kind]
    if len(special) > (1 if allow_special else 0):
        return None
    return _Aligned(shared, al, special[0] if special else None)


def _level(view: _View, al: _Aligned, t: int, keep: Sequence[int]) -> tuple[IntArray, FloatArray]:
    """Sorted keys (over the aligned labels of ``keep``) and counts (NaN: not derivable)."""
    pos = [view.table.variables.index(al.shared[k]) for k in keep]
    sizes = [len(al.vars[k].names) for k in keep]
    keys, vals = np.zeros(0, np.int64), np.zeros(0)
    for r, (codes, count, shown) in enumerate(view.records):
        cols = codes[:, pos]
        if r and (cols < 0).any():
            continue  # a total over a kept variable
        mapped = [al.vars[k].remap[t][cols[:, j]] for j, k in enumerate(keep)]
        flat = np.ravel_multi_index(mapped, sizes) if keep else np.zeros(len(count), np.int64)
        uniq, inv = np.unique(flat, return_inverse=True)
        hidden = np.bincount(inv, (~shown).astype(np.float64), len(uniq)) > 0
        val = np.where(hidden, np.nan, np.bincount(inv, count, len(uniq)))
        if r == 0:
            keys, vals = uniq, val
        else:  # a published total fills in a sum of partly hidden cells
            at = np.searchsorted(keys, uniq)
            fill = np.isnan(vals[at]) & ~hidden
            vals[at[fill]] = val[fill]
    return keys, vals


def _at(level: tuple[IntArray, FloatArray], want: IntArray) -> FloatArray:
    """Counts at ``want``; 0 for keys the table lacks (its empty categories)."""
    keys, vals = level
    if not len(keys):
        return np.zeros(len(want))
    at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[at] == want, vals[at], 0.0)


def _levels(n: int, skip: int | None = None) -> list[tuple[int, ...]]:
    """Every set of kept variables, finest first."""
    base = [k for k in range(n) if k != skip]
    return [c for r in range(len(base), -1, -1) for c in itertools.combinations(base, r)]


def _combine(views: Sequence[_View], signs: Sequence[int], m: int) -> tuple[
        _Aligned, list[Cell], int] | None:
    """Small cells of ``sum(sign * table)`` when it is >= 0 throughout (or <= 0).

    Returns the alignment, the minimal cells in ``[1, m-1]`` (finest first) and
    the sign (0: all zero); ``None`` when signs are mixed (no nesting).
    """
    al = _align(views, allow_special=False)
    if al is None:
        return None
    sums: list[tuple[tuple[int, ...], IntArray, FloatArray]] = []
    for keep in _levels(len(al.shared)):
        got = [_level(v, al, t, keep) for t, v in enumerate(views)]
        want = np.unique(np.concatenate([k for k, _ in got]))
        diff = np.zeros(len(want))
        for s, g in zip(signs, got, strict=True):
            diff += s * _at(g, want)
        sums.append((keep, want, diff))
    known = np.concatenate([d[~np.isnan(d)] for *_, d in sums])
    sign = 1 if np.all(known >= 0) else -1 if np.all(known <= 0) else 0
    if sign == 0:
        return None
    found: list[Cell] = []
    covered: set[tuple[tuple[int, int], ...]] = set()
    for keep, want, diff in sums:
        sizes = [len(al.vars[k].names) for k in keep]
        for h in np.flatnonzero((sign * diff >= 1) & (sign * diff < m)).tolist():
            key = tuple(zip(keep, (int(c) for c in np.unravel_index(want[h], sizes)),
                            strict=True))
            if key not in covered:  # else it holds a smaller finding already
                covered.update(itertools.chain.from_iterable(
                    itertools.combinations(key, r) for r in range(len(key) + 1)))
                found.append(({k: al.vars[k].names[c] for k, c in key}, int(sign * diff[h])))
    return al, found, sign if np.any(known != 0) else 0


def _partition(views: Sequence[_View], al: _Aligned, m: int) -> list[Cell]:
    """One population, the special variable banded or grouped differently by the two."""
    v = al.special
    assert v is not None
    var = al.vars[v]
    size = len(var.names)
    found: list[Cell] = []
    finer: list[tuple[dict[int, str], int, int]] = []
    for ctx_vars in _levels(len(al.shared), skip=v):
        sizes = [len(al.vars[k].names) for k in ctx_vars]
        got = [(_level(w, al, t, (*ctx_vars, v)), _level(w, al, t, ctx_vars))
               for t, w in enumerate(views)]
        ctxs = np.unique(np.concatenate([x for c, tot in got for x in (c[0] // size, tot[0])]))
        own = [np.unique(var.remap[t]).tolist() for t in range(len(views))]
        values = np.column_stack([col for (cells, totals), mine in zip(got, own, strict=True)
                                  for col in [*(_at(cells, ctxs * size + u) for u in mine),
                                              _at(totals, ctxs)]])
        for c, i, j, label, x in var.derive(own, values, m):
            code = {k: al.vars[k].names[int(q)] for k, q in
                    zip(ctx_vars, np.unravel_index(ctxs[c], sizes), strict=True)}
            if not any(all(f.get(k) == q for k, q in code.items()) and i <= fi and fj <= j
                       for f, fi, fj in finer):
                finer.append((code, i, j))
                found.append(({**code, v: label}, x))
    return found


def _say(t: LedgerTable, new: LedgerTable) -> str:
    who = "this table" if t is new else name_of(t)
    return who + (f" (population {t.population!r})" if t.population else "")


_LevelCache = dict[tuple[int, tuple[int, ...]], tuple[IntArray, FloatArray]]


def _terms(tables: Sequence[LedgerTable], signs: Sequence[int], al: _Aligned, new: LedgerTable,
           code: dict[int, str], levels: _LevelCache | None = None
           ) -> tuple[tuple[str, dict[str, str], int, int], ...]:
    """The cells combined (each table's count over the derived cell's categories), for the
    review page to show beside each other; () when a count is not derivable (hidden).
    ``levels``: the tables' levels already made for this alignment (one per table and set
    of variables, not one per finding: a pair can give tens of thousands of findings)."""
    keep = sorted(code)
    sizes = [len(al.vars[k].names) for k in keep]
    at = np.array([np.ravel_multi_index([al.vars[k].names.index(code[k]) for k in keep], sizes)
                   if keep else 0])
    cell = {al.shared[k]: code[k] for k in keep}
    out = []
    for t, (table, sign) in enumerate(zip(tables, signs, strict=True)):
        key = (t, tuple(keep))
        level = levels.get(key) if levels is not None else None
        if level is None:
            level = _level(_view(table), al, t, keep)
            if levels is not None:
                levels[key] = level
        n = float(_at(level, at)[0])
        if np.isnan(n):
            return ()
        out.append(("" if table is new else table.release_id, cell, int(n), sign))
    return tuple(out)


def _finding(new: LedgerTable, al: _Aligned, cell: Cell, m: int, kind: str, lead: str,
             earlier: Sequence[LedgerTable],
             terms: tuple[tuple[str, dict[str, str], int, int], ...] = ()
             ) -> DifferencingFinding:
    code, value = cell
    where = ", ".join(f"{al.shared[k]}={x}" if al.shared[k] else x
                      for k, x in sorted(code.items())) or "all records"
    noun = "contributor(s)" if _FAMILY[new.statistic] == "sum" else "record(s)"
    index = {n: k for k, n in enumerate(al.shared)}

    def side(names: tuple[str, ...]) -> Any:
        got = [code.get(index.get(n, -1), "All") for n in names]
        return None if not got else got[0] if len(got) == 1 else tuple(got)

    return DifferencingFinding(
        earlier[0].release_id, kind, where, value, m,
        f"{lead} {value} {noun} for {where}, fewer than the threshold of {m}.",
        tuple(t.release_id for t in earlier[1:]), side(new.row_var), side(new.col_var), terms)


def _compare(
    new: LedgerTable, old: LedgerTable, m: int
) -> tuple[list[DifferencingFinding], int | None]:
    """Findings of one pair; +1 / -1 when ``old`` holds / is held in ``new``, 0 when
    neither, ``None`` when their labels do not line up (a variable banded differently)."""
    views = (_view(old), _view(new))
    al = _align(views, allow_special=True)
    if al is None:
        return [], None
    if al.special is not None:
        bands_ = al.vars[al.special].kind == "bands"
        kind = "category_difference" if bands_ else "category_merge"
        lead = (f"Combining this table's {al.shared[al.special] or 'label'} "
                f"{'bands' if bands_ else 'categories'} with those of {_say(old, new)} reveals")
        return [_finding(new, al, c, m, kind, lead, [old]) for c in _partition(views, al, m)], None
    combined = _combine(views, (1, -1), m)
    if combined is None:
        return [], 0
    al, cells, sign = combined
    same = set(new.variables) == set(old.variables)
    big, small = (old, new) if sign >= 0 else (new, old)
    lead = f"Subtracting {_say(small, new)} from {_say(big, new)} leaves"
    kind = "nested_population" if same else "margin_difference"
    signs = (1, -1) if sign >= 0 else (-1, 1)  # views are (old, new)
    levels: _LevelCache = {}
    return [_finding(new, al, c, m, kind, lead, [old],
                     _terms((old, new), signs, al, new, c[0], levels)) for c in cells], \
        sign if same else 0


def _complements(new: LedgerTable, same: list[LedgerTable], supersets: list[LedgerTable],
                 subsets: list[LedgerTable], m: int) -> list[DifferencingFinding]:
    """``A - new - B`` (A holds new) and ``new - B1 - B2`` (new holds both)."""
    views = [_view(new)] + [_view(t) for t in same]
    al = _align(views, allow_special=False) if supersets or len(subsets) > 1 else None
    if al is None:
        return []
    full = tuple(range(len(al.shared)))
    got = [_level(v, al, t, full) for t, v in enumerate(views)]
    want = np.unique(np.concatenate([k for k, _ in got]))
    grid = np.vstack([_at(g, want) for g in got])  # row 0: new; row i: same[i - 1]
    row = {id(t): i + 1 for i, t in enumerate(same)}
    plans = [(a, new, grid[row[id(a)]] - grid[0], [b for b in same if b is not a])
             for a in supersets]
    plans += [(new, b, grid[0] - grid[row[id(b)]], subsets[i + 1:]) for i, b in enumerate(subsets)]
    out = []
    for big, first, rest, pool in plans:
        left = rest - grid[[row[id(b)] for b in pool]] if pool else np.zeros((0, len(want)))
        # Nested (nothing negative), and either a small cell or hidden ones (whose
        # sums may be small): only such triples are worked out in full.
        fits = np.all(np.isnan(left) | (left >= 0), axis=1) & (
            np.any((left >= 1) & (left < m), axis=1) | np.any(np.isnan(left), axis=1))
        for b in (pool[i] for i in np.flatnonzero(fits)):
            trio = (big, first, b)
            combined = _combine([_view(t) for t in trio], (1, -1, -1), m)
            if combined is not None and combined[2] > 0:
                lead = (f"Subtracting {_say(first, new)} and {_say(b, new)} from "
                        f"{_say(big, new)} leaves")
                earlier = [t for t in trio if t is not new]
                levels: _LevelCache = {}
                out += [_finding(new, combined[0], c, m, "complement", lead, earlier,
                                 _terms(trio, (1, -1, -1), combined[0], new, c[0], levels))
                        for c in combined[1]]
    return out


def _comparable(new: LedgerTable, old: LedgerTable, any_dataset: bool = False) -> bool:
    return (
        old.release_id != new.release_id
        and (any_dataset or new.dataset is None or old.dataset is None
             or new.dataset == old.dataset)
        and _FAMILY.get(old.statistic) == _FAMILY.get(new.statistic) is not None
        and not set(new.variables).isdisjoint(old.variables)
        and old.counts.size > 0 and new.counts.size > 0
    )


def _exact(new: LedgerTable, old: LedgerTable) -> bool:
    """Both tables carry their records, over one named dataset: set arithmetic decides."""
    return (new.dataset is not None and new.dataset == old.dataset
            and new.records is not None and old.records is not None)


def _comparable_any(new: LedgerTable, old: LedgerTable, any_dataset: bool = False) -> bool:
    if _exact(new, old):
        return (old.release_id != new.release_id and old.counts.size > 0
                and _FAMILY.get(old.statistic) == _FAMILY.get(new.statistic) is not None)
    return _comparable(new, old, any_dataset)


# Records one check decodes at most (its table's and earlier releases' record sets; about
# 3 to 6 bytes a record once decoded, kept by the ledger's cache, which is bounded too).
MAX_RECORDS_PER_CHECK = 100_000_000


def find_differencing(
    new: LedgerTable, ledger: Sequence[LedgerTable], min_count: int,
    any_dataset: bool = False,
) -> list[DifferencingFinding]:
    """Every count in ``[1, min_count - 1]`` that ``new`` and the ledger give away.

    Earlier tables that carry their records, like ``new``, over the same dataset are
    compared exactly (:mod:`statbarn.populations`); the others by their variables, and
    so are those whose record sets share no record with ``new``'s (the record ids are
    the researcher's index: two tables over disjoint populations whose variables say
    they are one are judged by their variables too, the union of both methods) and
    those whose shared ids fall in disagreeing categories of a variable both tables
    have (rows renumbered in the session: the ids name different people), and, as well
    as by records, those of which neither holds all the other's records (one id renamed
    is enough to make a subset look like an overlap).
    ``any_dataset``: the dataset names are free text (no catalogue): the comparison by
    variables spans every dataset name."""
    return _find(new, ledger, min_count, any_dataset)[0]


def _find(new: LedgerTable, ledger: Sequence[LedgerTable], min_count: int,
          any_dataset: bool) -> tuple[list[DifferencingFinding], dict[str, list[LedgerTable]]]:
    """The findings, and the earlier tables with record sets that were compared by their
    variables instead, by why (:func:`statbarn.exact_differencing.exact_findings`)."""
    exact = _budget(new, [old for old in ledger if _exact(new, old)
                          and _comparable_any(new, old)])
    found: list[DifferencingFinding] = []
    apart: dict[str, list[LedgerTable]] = {}
    if exact:
        new.record_sets()  # a table whose record sets do not add up: EvidenceError
        found, apart = exact_findings(new, exact, min_count)
    by_records = {id(old) for old in exact} - {id(t) for ts in apart.values() for t in ts}
    ledger = [old for old in ledger if id(old) not in by_records]
    return found + _structural(new, ledger, min_count, any_dataset), apart


def _renumbered(tables: Sequence[LedgerTable]) -> str:
    """The check's sentence for pairs whose record ids disagree with their categories."""
    if not tables:
        return ""
    names = "; ".join(name_of(t) for t in tables[:3]) + (
        f" and {len(tables) - 3} more" if len(tables) > 3 else "")
    return (f" The record ids of this table and of {names} disagree with their categories "
            "(the same id in different categories of a variable both have: rows renumbered, "
            "e.g. by reset_index()), so those were compared by their variables, not by "
            "records; tabulate the dataset's rows as read to be compared exactly.")


def _declared(t: LedgerTable) -> int:
    n = (t.records or {}).get("n", 0)
    return n if isinstance(n, int) else 0


def _budget(new: LedgerTable, olds: list[LedgerTable]) -> list[LedgerTable]:
    """The earlier tables compared by records within :data:`MAX_RECORDS_PER_CHECK`
    decoded records, newest first (the ledger's order is oldest first); the others are
    compared by their variables.  One request decodes a bounded number of records."""
    left = MAX_RECORDS_PER_CHECK - _declared(new)
    kept: list[LedgerTable] = []
    for old in reversed(olds):
        left -= _declared(old)
        if left < 0:
            break
        kept.append(old)
    return kept[::-1]


def _structural(
    new: LedgerTable, ledger: Sequence[LedgerTable], min_count: int, any_dataset: bool = False
) -> list[DifferencingFinding]:
    candidates = [old for old in ledger if _comparable(new, old, any_dataset)]
    findings: list[DifferencingFinding] = []
    supersets: list[LedgerTable] = []
    subsets: list[LedgerTable] = []
    same: list[LedgerTable] = []
    for old in candidates:
        got, sign = _compare(new, old, min_count)
        findings += got
        if not got and sign:
            (supersets if sign > 0 else subsets).append(old)
        if sign is not None and set(old.variables) == set(new.variables):
            same.append(old)
    return findings + _complements(new, same, supersets, subsets, min_count)


def differencing_check(
    new: LedgerTable, ledger: Sequence[LedgerTable], profile: Profile,
    any_dataset: bool = False,
) -> CheckResult:
    """Rule ``differencing``: escalate when ``new`` and the ledger give away a small count
    (``any_dataset``: see :func:`find_differencing`)."""
    findings, apart = _find(new, ledger, profile.min_count, any_dataset)
    said = _renumbered(apart.get("renumbered", []))
    if not findings:
        n = sum(_comparable_any(new, old, any_dataset) for old in ledger)
        return CheckResult(Rule.DIFFERENCING, Verdict.PASS, [],
                           f"No differencing against {n} comparable earlier release(s).{said}")
    flags = [CellFlag(Rule.DIFFERENCING, Verdict.ESCALATE, f.row, f.col, f.derived_value,
                      f.limit, f.message) for f in findings]
    ids = sorted({r for f in findings for r in (f.earlier_release_id, *f.related_release_ids)})
    by_id = {t.release_id: t for t in ledger}
    names = [name_of(by_id[i]) if i in by_id else f"release {i}" for i in ids]
    return CheckResult(Rule.DIFFERENCING, Verdict.ESCALATE, flags,
                       f"{len(flags)} count(s) below {profile.min_count} can be derived by "
                       f"differencing with earlier release(s) {'; '.join(names)}.{said}",
                       details=details(new, [by_id[i] for i in ids if i in by_id], findings))


__all__ = ["DifferencingFinding", "LedgerTable", "differencing_check", "find_differencing"]
