"""Exact differencing: released cells as sets of records, combined by set arithmetic.

Each cell of a table with record sets (see :mod:`statbarn.records`), and each of
its margins (printed, or implied by cells that were all shown), is a
population: a set of records of one dataset.  A new table gives a count away
when a signed combination of up to three populations, one of them its own, is
the indicator of a set of 1 .. min_count - 1 records:

- ``A - B`` with ``B`` inside ``A`` (a subgroup, a narrower filter, a recode
  of one band, a year added, ...): ``|A| - |B|`` records;
- ``A - B - C`` with ``B`` and ``C`` disjoint and both inside ``A``
  (all - adults - under-16s): ``|A| - |B| - |C|``;
- ``B + C - A`` with ``A`` inside the disjoint union of ``B`` and ``C``
  (a request minus one release plus another): ``|B| + |C| - |A|``.

Containment is exact: the records of one table are joined with another's, and a
group of cells is inside another exactly when every record of it is.  So
overlapping windows, disjoint districts and unrelated variables never count as
nested, and recodes of one variable line up whatever they are called.
Not covered: ``A + B - C`` where ``A`` and ``B`` overlap, four populations or
more, and two earlier releases' containment in each other unless a new cell
takes part in it (earlier releases were checked against each other when they
were released).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from statbarn.records import RecordSets

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
MAX_LEVEL_VARS = 6  # 2**6 margins at most per table
MAX_PAIR_CHECKS = 2_000  # on-demand intersections of two earlier releases per check


@dataclass(frozen=True)
class Group:
    """One population of a table: a level (kept variables) and its categories."""

    table: int  # 0: the new table; i: the i-th earlier one
    level: tuple[int, ...]  # indices into the table's variables
    gid: int  # group number at that level
    size: int


@dataclass(frozen=True)
class Finding:
    value: int
    plus: tuple[Group, ...]
    minus: tuple[Group, ...]


@dataclass
class Shape:
    """What set arithmetic needs of one table: per-variable codes of the body cells
    and, per level, each cell's group, the group sizes and which groups are known."""

    table: Any  # the LedgerTable
    records: RecordSets
    labels: list[list[str]]  # distinct labels of each variable
    coords: IntArray  # body cells x variables
    levels: list[tuple[int, ...]]
    gid: dict[tuple[int, ...], IntArray] = field(default_factory=dict)
    size: dict[tuple[int, ...], IntArray] = field(default_factory=dict)
    known: dict[tuple[int, ...], BoolArray] = field(default_factory=dict)

    def describe(self, level: tuple[int, ...], gid: int) -> dict[str, str]:
        sizes = [len(self.labels[v]) for v in level]
        codes = np.unravel_index(gid, sizes) if level else ()
        return {self.table.variables[v]: self.labels[v][int(c)]
                for v, c in zip(level, codes, strict=True)}


def members(s: Shape, g: Group) -> IntArray:
    """The record ids of a population (tests, and reviewers' tools inside the TRE)."""
    inside = s.gid[g.level][s.records.cells] == g.gid
    return np.asarray(s.records.ids[inside], dtype=np.int64)


def shape_of(t: Any, records: RecordSets) -> Shape:
    """The set-arithmetic view of a LedgerTable (built once per table, then cached)."""
    labels_rc = [t.row_labels, t.col_labels]
    nr, nc = t.counts.shape
    per_var: list[tuple[list[str], IntArray]] = []
    for axis, names in ((0, t.row_var), (1, t.col_var)):
        labs = labels_rc[axis]
        for i in range(len(names)):
            distinct = list(dict.fromkeys(x[i] for x in labs))
            pos = {v: k for k, v in enumerate(distinct)}
            code = np.array([pos[x[i]] for x in labs], dtype=np.int64)
            per_var.append((distinct, np.repeat(code, nc) if axis == 0 else np.tile(code, nr)))
    k = len(per_var)
    coords = (np.column_stack([c for _, c in per_var]) if k
              else np.zeros((nr * nc, 0), np.int64))
    sizes = [len(d) for d, _ in per_var]
    if k <= MAX_LEVEL_VARS:
        levels = [c for r in range(k, -1, -1) for c in itertools.combinations(range(k), r)]
    else:  # the body and the printed margins only
        levels = [tuple(range(k)), tuple(range(len(t.row_var))),
                  tuple(range(len(t.row_var), k)), ()]
    shown = (np.ones(nr * nc, bool) if t.published is None
             else np.asarray(t.published, bool).ravel())
    counts = records.cell_counts()
    s = Shape(t, records, [d for d, _ in per_var], coords, list(dict.fromkeys(levels)))
    row_level, col_level = tuple(range(len(t.row_var))), tuple(range(len(t.row_var), k))
    for level in s.levels:
        ls = [sizes[v] for v in level]
        gid = (np.ravel_multi_index(tuple(coords[:, v] for v in level), ls) if level
               else np.zeros(nr * nc, np.int64)).astype(np.int64)
        n = int(np.prod(ls)) if level else 1
        hidden = np.bincount(gid, (~shown).astype(np.float64), n) > 0
        known = ~hidden
        printed: list[tuple[tuple[int, ...], tuple[bool, ...], IntArray]] = [
            (row_level, t.row_totals, gid.reshape(nr, nc)[:, 0]),
            (col_level, t.col_totals, gid.reshape(nr, nc)[0, :])]
        for lv, flags, where in printed:
            if level == lv and flags and level != tuple(range(k)):
                known[where[np.array(flags, bool)]] = True
        if not level and t.grand_total:
            known[:] = True
        s.gid[level], s.known[level] = gid, known
        s.size[level] = np.bincount(gid, counts.astype(np.float64), n).astype(np.int64)
    return s


@dataclass
class _Pairing:
    """The join of the new table's records with one earlier table's."""

    x: IntArray  # new body cell of each (new cell, old cell) block
    y: IntArray  # old body cell
    n: IntArray  # records in the block


def _join(a: RecordSets, b: RecordSets) -> _Pairing:
    if a.ids is b.ids or (len(a.ids) == len(b.ids) and np.array_equal(a.ids, b.ids)):
        xa, yb = a.cells, b.cells
    else:
        pos = np.searchsorted(b.ids, a.ids)
        pos_c = np.minimum(pos, len(b.ids) - 1) if len(b.ids) else pos
        hit = (b.ids[pos_c] == a.ids[np.arange(len(a.ids))]) if len(b.ids) else \
            np.zeros(len(a.ids), bool)
        xa, yb = a.cells[hit], b.cells[pos_c[hit]]
    na, nb = a.n_cells, b.n_cells
    key = yb.astype(np.int64) * na + xa
    if na * nb <= 4 * max(len(key), 1):
        dense = np.bincount(key, minlength=na * nb)
        nz = np.flatnonzero(dense)
        return _Pairing(nz % na, nz // na, dense[nz].astype(np.int64))
    uniq, cnt = np.unique(key, return_counts=True)
    return _Pairing(uniq % na, uniq // na, cnt.astype(np.int64))


_Span = tuple[tuple[int, ...], int, tuple[int, ...], IntArray, IntArray]
_Inside = tuple[tuple[int, ...], IntArray, tuple[int, ...], IntArray]


def _contained(inner: Shape, outer: Shape, cell_in: IntArray, cell_out: IntArray,
               weight: IntArray) -> tuple[list[_Inside], list[_Span]]:
    """Groups of ``inner`` inside groups of ``outer``: (inner level, inner gids, outer level,
    outer gids), for every pair of levels; and the inner groups whose records span two
    outer groups of one level at most (candidates for a union), as (inner level, gid,
    outer level).  An inner body cell's records fall in the outer cells ``cell_out``; it
    lies inside an outer group exactly when those cells agree on the group's variables."""
    k_out = outer.coords.shape[1]
    n_in = inner.records.n_cells
    big = np.iinfo(np.int64).max
    lo = np.full((n_in, k_out), big, np.int64)
    hi = np.full((n_in, k_out), -1, np.int64)
    c = outer.coords[cell_out]
    np.minimum.at(lo, cell_in, c)
    np.maximum.at(hi, cell_in, c)
    joined = np.bincount(cell_in, weight, n_in)  # records of each cell the outer table has
    out: list[_Inside] = []
    spans: list[_Span] = []
    for lv_in in inner.levels:
        gid = inner.gid[lv_in]
        ng = len(inner.size[lv_in])
        glo = np.full((ng, k_out), big, np.int64)
        ghi = np.full((ng, k_out), -1, np.int64)
        np.minimum.at(glo, gid, lo)
        np.maximum.at(ghi, gid, hi)
        whole = np.bincount(gid, joined, ng) == inner.size[lv_in]  # no record outside
        live = np.flatnonzero((inner.size[lv_in] > 0) & inner.known[lv_in] & whole)
        fixed = glo[live] == ghi[live]
        for lv_out in outer.levels:
            unfixed = (~fixed[:, list(lv_out)]).sum(axis=1) if lv_out else \
                np.zeros(len(live), np.int64)
            for j in np.flatnonzero(unfixed == 1).tolist():
                spans.append((lv_in, int(live[j]), lv_out, glo[live[j]], ghi[live[j]]))
            ok = live[unfixed == 0]
            if not len(ok):
                continue
            sizes = [len(outer.labels[v]) for v in lv_out]
            og = (np.ravel_multi_index(tuple(glo[ok, v] for v in lv_out), sizes)
                  if lv_out else np.zeros(len(ok), np.int64))
            keep = outer.known[lv_out][og]
            out.append((lv_in, ok[keep], lv_out, og[keep].astype(np.int64)))
    return out, spans


@dataclass
class _Edge:
    """``sub`` inside ``sup`` (whole arrays: one entry per containment)."""

    sup_t: int
    sup_lv: tuple[int, ...]
    sup_g: IntArray
    sub_t: int
    sub_lv: tuple[int, ...]
    sub_g: IntArray


def find(new: Shape, olds: Sequence[Shape], m: int) -> list[Finding]:
    """Every population of 1 .. m-1 records isolated by the new table with the earlier ones."""
    shapes = [new, *olds]
    edges: list[_Edge] = []
    pairings: dict[int, _Pairing] = {}
    findings: list[Finding] = []
    seen: set[tuple[Any, ...]] = set()
    for i, old in enumerate(olds, start=1):
        p = _join(new.records, old.records)
        if not len(p.n):
            continue
        pairings[i] = p
        for inner, outer, cin, cout in ((i, 0, p.y, p.x), (0, i, p.x, p.y)):
            inside, spans = _contained(shapes[inner], shapes[outer], cin, cout, p.n)
            edges += [_Edge(outer, lv_o, g_o, inner, lv_i, g_i)
                      for lv_i, g_i, lv_o, g_o in inside]
            for f in _unions(shapes, inner, outer, cin, cout, p.n, spans, m):
                _add(findings, seen, f)
    for e in edges:  # pairs: A - B
        sup = shapes[e.sup_t].size[e.sup_lv][e.sup_g]
        sub = shapes[e.sub_t].size[e.sub_lv][e.sub_g]
        for j in np.flatnonzero((sup - sub >= 1) & (sup - sub < m)).tolist():
            a = Group(e.sup_t, e.sup_lv, int(e.sup_g[j]), int(sup[j]))
            b = Group(e.sub_t, e.sub_lv, int(e.sub_g[j]), int(sub[j]))
            _add(findings, seen, Finding(a.size - b.size, (a,), (b,)))
    for f in _triples(shapes, edges, pairings, m):
        _add(findings, seen, f)
    return findings


def _add(out: list[Finding], seen: set[tuple[Any, ...]], f: Finding) -> None:
    key = (tuple(sorted((g.table, g.level, g.gid) for g in f.plus)),
           tuple(sorted((g.table, g.level, g.gid) for g in f.minus)))
    if key not in seen:
        seen.add(key)
        out.append(f)


def _unions(shapes: Sequence[Shape], inner: int, outer: int, cin: IntArray, cout: IntArray,
            weight: IntArray, spans: Sequence[_Span], m: int) -> list[Finding]:
    """B + C - A: an inner group A lies in the union of two outer groups B and C of one
    level (disjoint, as groups of one level are), neither of which holds it alone."""
    si, so = shapes[inner], shapes[outer]
    out = []
    for lv_in, g, lv_out, lo, hi in spans:
        sizes = [len(so.labels[v]) for v in lv_out]
        b_g = int(np.ravel_multi_index(tuple(int(lo[v]) for v in lv_out), sizes))
        c_g = int(np.ravel_multi_index(tuple(int(hi[v]) for v in lv_out), sizes))
        nb, nc, na = (int(so.size[lv_out][b_g]), int(so.size[lv_out][c_g]),
                      int(si.size[lv_in][g]))
        if not (1 <= nb + nc - na < m and so.known[lv_out][b_g] and so.known[lv_out][c_g]):
            continue
        mine = si.gid[lv_in][cin] == g
        where = so.gid[lv_out][cout[mine]]
        if int(weight[mine].sum()) != na or not np.isin(where, (b_g, c_g)).all():
            continue  # part of A lies outside the outer table, or in a third group
        out.append(Finding(nb + nc - na, (Group(outer, lv_out, b_g, nb),
                                          Group(outer, lv_out, c_g, nc)),
                           (Group(inner, lv_in, g, na),)))
    return out


def _own_subgroups(s: Shape, t: int, level: tuple[int, ...], g: int) -> list[Group]:
    """The finer groups of a table inside one of its groups (known, not empty)."""
    members = s.gid[level] == g
    out = []
    for lv in s.levels:
        if lv == level or not set(level) <= set(lv):
            continue
        for h in np.unique(s.gid[lv][members]).tolist():
            if s.known[lv][h] and s.size[lv][h] > 0:
                out.append(Group(t, lv, int(h), int(s.size[lv][h])))
    return out


def _disjoint(shapes: Sequence[Shape], pairings: dict[int, _Pairing], a: Group, b: Group,
              budget: list[int]) -> bool | None:
    """Whether two populations share no record (None: not worked out, budget spent)."""
    if a.table == b.table:
        s = shapes[a.table]
        return not bool(((s.gid[a.level] == a.gid) & (s.gid[b.level] == b.gid)).any())
    if b.table == 0:
        a, b = b, a
    sa, sb = shapes[a.table], shapes[b.table]
    if a.table == 0:
        p = pairings.get(b.table)
        if p is None:
            return True
    else:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        p = _join(sa.records, sb.records)
    inside = (sa.gid[a.level][p.x] == a.gid) & (sb.gid[b.level][p.y] == b.gid)
    return not bool(inside.any())


def _triples(shapes: Sequence[Shape], edges: Sequence[_Edge], pairings: dict[int, _Pairing],
             m: int) -> list[Finding]:
    """A - B - C: two disjoint populations inside A that leave 1 .. m-1 of it."""
    inside: dict[tuple[int, tuple[int, ...], int], list[Group]] = {}
    for e in edges:
        sup = shapes[e.sup_t].size[e.sup_lv][e.sup_g]
        sub = shapes[e.sub_t].size[e.sub_lv][e.sub_g]
        for j in np.flatnonzero(sup - sub >= m).tolist():  # else a pair has it already
            inside.setdefault((e.sup_t, e.sup_lv, int(e.sup_g[j])), []).append(
                Group(e.sub_t, e.sub_lv, int(e.sub_g[j]), int(sub[j])))
    out: list[Finding] = []
    budget = [MAX_PAIR_CHECKS]
    for (t, lv, g), subs in inside.items():
        s = shapes[t]
        total = int(s.size[lv][g])
        pool = sorted(subs + [x for x in _own_subgroups(s, t, lv, g) if total - x.size >= m],
                      key=lambda x: x.size)
        sizes = np.array([x.size for x in pool], dtype=np.int64)
        for i, b in enumerate(pool):
            lo = int(np.searchsorted(sizes, total - b.size - (m - 1), "left"))
            hi = int(np.searchsorted(sizes, total - b.size - 1, "right"))
            for j in range(max(lo, i + 1), hi):
                c = pool[j]
                if 0 not in (t, b.table, c.table) or b.table == c.table == t:
                    continue
                if _disjoint(shapes, pairings, b, c, budget) is not False:  # unknown: say so
                    out.append(Finding(total - b.size - c.size, (Group(t, lv, g, total),),
                                       (b, c)))
    return out


__all__ = ["Finding", "Group", "Shape", "find", "members", "shape_of"]
