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
- ``B + C - A`` with ``B`` and ``C`` overlapping inside ``A`` and covering it (two
  year windows and the whole span): their overlap, ``|B| + |C| - |A|`` records.

Containment is exact: the records of one table are joined with another's, and a
group of cells is inside another exactly when every record of it is.  So
overlapping windows, disjoint districts and unrelated variables never count as
nested, and recodes of one variable line up whatever they are called.
Not covered: ``B + C - A`` with ``B`` and ``C`` overlapping where either spills
outside ``A``, four populations or more, and two earlier releases' containment in
each other unless a new cell takes part in it (earlier releases were checked against
each other when they were released).
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
MAX_FINDINGS = 500  # a table that gives this many away escalates; more add nothing


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
    kind: str = ""  # "overlap": B + C - A with B and C overlapping inside A (B & C left)


@dataclass
class Shape:
    """What set arithmetic needs of one table: per-variable codes of the body cells
    and, per level, each cell's group, the group sizes and which groups are known."""

    table: Any  # the LedgerTable
    records: RecordSets
    labels: list[list[str]]  # distinct labels of each variable
    coords: IntArray  # body cells x variables
    levels: list[tuple[int, ...]]
    var_sizes: list[int] = field(default_factory=list)
    gid: dict[tuple[int, ...], IntArray] = field(default_factory=dict)
    size: dict[tuple[int, ...], IntArray] = field(default_factory=dict)
    known: dict[tuple[int, ...], BoolArray] = field(default_factory=dict)
    # (finer level, coarser level, the coarser group of each finer group)
    own: list[tuple[tuple[int, ...], tuple[int, ...], IntArray]] = field(default_factory=list)
    _lookup: Any = None  # record id -> body cell (-1: not in the table), built on demand
    key: str = ""  # the table's content digest (releases of one content compare alike)
    # Cached per table: each variable's code per body cell (contiguous), and per level and
    # width the flat (group, value) index of each (body cell, value)
    _cols: dict[int, IntArray] = field(default_factory=dict)
    _flat: dict[tuple[tuple[int, ...], int], IntArray] = field(default_factory=dict)

    def col(self, v: int) -> IntArray:
        got = self._cols.get(v)
        if got is None:
            got = self._cols[v] = np.ascontiguousarray(self.coords[:, v])
        return got

    def flat(self, level: tuple[int, ...], width: int) -> IntArray:
        got = self._flat.get((level, width))
        if got is None:
            got = (self.gid[level][:, None] * width + np.arange(width)).ravel()
            self._flat[(level, width)] = got
        return got

    def lookup(self, top: int) -> Any:
        """A dense map from record id (up to ``top``) to this table's body cell."""
        if self._lookup is None or len(self._lookup) <= top:
            size = max(top + 1, int(self.records.ids[-1]) + 1 if len(self.records.ids) else 1)
            table = np.full(size, -1, np.int32)
            table[self.records.ids] = self.records.cells
            self._lookup = table
        return self._lookup

    def coords_of(self, level: tuple[int, ...], gid: int) -> dict[int, int]:
        sizes = [self.var_sizes[v] for v in level]
        codes = np.unravel_index(gid, sizes) if level else ()
        return {v: int(c) for v, c in zip(level, codes, strict=True)}

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
    s = Shape(t, records, [d for d, _ in per_var], coords, list(dict.fromkeys(levels)), sizes)
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
    for fine in s.levels:
        for coarse in s.levels:
            if set(coarse) < set(fine):
                parent = np.zeros(len(s.size[fine]), np.int64)
                parent[s.gid[fine]] = s.gid[coarse]
                s.own.append((fine, coarse, parent))
    return s


@dataclass
class _Pairing:
    """The records two tables share: each one's body cell in the new and the old table."""

    x: IntArray  # new body cell of each shared record
    y: IntArray  # old body cell


# The dense lookup of a join (record id -> cell, int32) is used while the ids fit in this
# many entries (or four per record): beyond, one id of 2**40 in a sidecar would ask for
# terabytes, so the sorted ids are searched instead (slower, bounded by the records).
DENSE_IDS = 1 << 24


def _sorted_gather(sets: RecordSets, ids: Any) -> IntArray:
    """Each id's body cell in ``sets`` (-1: not there), by binary search of its sorted ids."""
    if not len(sets.ids):
        return np.full(len(ids), -1, np.int64)
    at = np.minimum(np.searchsorted(sets.ids, ids), len(sets.ids) - 1)
    hit = sets.ids[at] == ids
    return np.where(hit, sets.cells[at].astype(np.int64), -1)


def _join(a: Shape, b: Shape, seen: dict[int, Any] | None = None) -> _Pairing:
    """Shared records by a dense lookup of ``a``'s cells (record ids index it).
    ``seen``: lookups already made for an id array (tables over one population share it)."""
    ids = b.records.ids
    if a.records.ids is ids or (len(a.records.ids) == len(ids)
                                and np.array_equal(a.records.ids, ids)):
        return _Pairing(a.records.cells.astype(np.int64), b.records.cells.astype(np.int64))
    got = seen.get(id(ids)) if seen is not None else None
    if got is None or got[0] is not ids:
        top = max(int(ids[-1]) if len(ids) else 0,
                  int(a.records.ids[-1]) if len(a.records.ids) else 0)
        if top < max(DENSE_IDS, 4 * (len(ids) + len(a.records.ids))):
            x = np.take(a.lookup(top), ids)  # one gather over the dataset's id space
        else:  # ids spread far wider than the records (the researcher's index): sorted
            x = _sorted_gather(a.records, ids)
        at = np.flatnonzero(x >= 0)
        whole = len(at) == len(ids)  # every record shared: no second gather
        got = (ids, (x if whole else x.take(at)).astype(np.int64), None if whole else at)
        if seen is not None:
            seen[id(ids)] = got
    cells = b.records.cells
    return _Pairing(got[1], (cells if got[2] is None else cells.take(got[2])).astype(np.int64))


def _consistent(a: Shape, b: Shape, p: _Pairing) -> bool:
    """Whether the records both tables hold fall in agreeing categories of every variable
    both tables have (by name, over the labels both list).  Record ids are the frame's
    index: rows renumbered in the session (``reset_index()`` after a filter, a frame
    rebuilt) still look like ids, but then one id names different people in the two
    tables, and their categories disagree somewhere."""
    names_b = {n: k for k, n in enumerate(b.table.variables)}
    for va, name in enumerate(a.table.variables):
        vb = names_b.get(name)
        if vb is None:
            continue
        where = {lab: k for k, lab in enumerate(b.labels[vb])}
        to_b = np.array([where.get(lab, -1) for lab in a.labels[va]], np.int64)
        # per body cell first (a few hundred), then per shared record: one gather each
        mine = to_b[a.coords[:, va]].take(p.x)
        theirs = b.coords[:, vb].take(p.y)
        if bool(((mine >= 0) & (mine != theirs)).any()):
            return False
    return True


@dataclass
class _Edges:
    """Containments ``sub`` inside ``sup``, as parallel arrays (global group keys)."""

    sup: list[IntArray] = field(default_factory=list)
    sub: list[IntArray] = field(default_factory=list)

    def add(self, sup: IntArray, sub: IntArray) -> None:
        if len(sup):
            self.sup.append(sup)
            self.sub.append(sub)


class _Keys:
    """Global group keys: one integer per (table, level, group)."""

    def __init__(self, shapes: Sequence[Shape]) -> None:
        self.base: dict[tuple[int, tuple[int, ...]], int] = {}
        self.where: list[tuple[int, tuple[int, ...], int]] = []
        n = 0
        for t, s in enumerate(shapes):
            for lv in s.levels:
                self.base[(t, lv)] = n
                self.where.append((t, lv, n))
                n += len(s.size[lv])
        self.size = np.zeros(n, np.int64)
        self.table = np.zeros(n, np.int64)
        for t, s in enumerate(shapes):
            for lv in s.levels:
                b = self.base[(t, lv)]
                self.size[b:b + len(s.size[lv])] = s.size[lv]
                self.table[b:b + len(s.size[lv])] = t
        self._starts = np.array([w[2] for w in self.where], np.int64)

    def key(self, t: int, lv: tuple[int, ...], gid: Any) -> Any:
        return self.base[(t, lv)] + gid

    def group(self, key: int) -> Group:
        t, lv, b = self.where[int(np.searchsorted(self._starts, key, "right")) - 1]
        return Group(t, lv, int(key - b), int(self.size[key]))


def _contained(inner: Shape, outer: Shape, ci: IntArray, co: IntArray, keys: _Keys,
               t_in: int, t_out: int, edges: _Edges, m: int, out: list[Finding]) -> None:
    """Groups of ``inner`` inside groups of ``outer``, and inner groups inside the union of
    two groups of one outer level (``B + C - A``), from the shared records' cells.

    Per outer variable, the values an inner cell's records take there are counted; an
    inner group lies inside an outer group exactly when all its records are shared and
    take one value on each of the outer group's variables."""
    n_in = inner.records.n_cells
    joined = np.bincount(ci, minlength=n_in).astype(np.int64)
    alive = {}
    for lv_in in inner.levels:  # groups with every record shared (else inside nothing)
        gid, size = inner.gid[lv_in], inner.size[lv_in]
        whole = np.bincount(gid, joined, len(size)) == size
        live = np.flatnonzero((size > 0) & inner.known[lv_in] & whole)
        if len(live):
            alive[lv_in] = live
    if not alive:
        return
    per_var = []
    wide = ci.astype(np.int64)  # cells x values can pass 2**31
    for v, sv in enumerate(outer.var_sizes):
        vals = outer.col(v).take(co)
        per_var.append(np.bincount(wide * sv + vals, minlength=n_in * sv).reshape(n_in, sv))
    for lv_in, live in alive.items():
        gid, ng = inner.gid[lv_in], len(inner.size[lv_in])
        nvals, first, last = [], [], []
        body = ng == n_in and bool((gid == np.arange(n_in)).all())
        for v, sv in enumerate(outer.var_sizes):
            if body:  # each body cell its own group
                hit = per_var[v][live] > 0
            else:
                g = np.bincount(inner.flat(lv_in, sv), per_var[v].ravel(), ng * sv
                                ).reshape(ng, sv)
                hit = g[live] > 0
            nvals.append(hit.sum(axis=1))
            first.append(np.argmax(hit, axis=1))
            last.append(sv - 1 - np.argmax(hit[:, ::-1], axis=1))
        nv = np.column_stack(nvals) if nvals else np.zeros((len(live), 0), np.int64)
        for lv_out in outer.levels:
            cols = list(lv_out)
            ones = (nv[:, cols] == 1).sum(axis=1) if cols else np.zeros(len(live), np.int64)
            sizes = [outer.var_sizes[v] for v in lv_out]
            inside = ones == len(cols)
            if inside.any():
                og = (np.ravel_multi_index(tuple(first[v][inside] for v in cols), sizes)
                      if cols else np.zeros(int(inside.sum()), np.int64))
                ok = outer.known[lv_out][og]
                edges.add(keys.key(t_out, lv_out, og[ok]),
                          keys.key(t_in, lv_in, live[inside][ok]))
            two = (ones == len(cols) - 1) & ((nv[:, cols] == 2).sum(axis=1) == 1) if cols \
                else np.zeros(len(live), bool)
            if two.any():
                _union(inner, outer, lv_in, lv_out, live[two], [f[two] for f in first],
                       [f[two] for f in last], keys, t_in, t_out, m, out)


def _union(inner: Shape, outer: Shape, lv_in: tuple[int, ...], lv_out: tuple[int, ...],
           groups: IntArray, first: list[IntArray], last: list[IntArray], keys: _Keys,
           t_in: int, t_out: int, m: int, out: list[Finding]) -> None:
    """B + C - A: A's records all lie in two groups of one outer level (disjoint, as groups
    of one level are), neither of which holds A alone."""
    if len(out) >= MAX_FINDINGS:
        return
    sizes = [outer.var_sizes[v] for v in lv_out]
    b = np.ravel_multi_index(tuple(first[v] for v in lv_out), sizes)
    c = np.ravel_multi_index(tuple(last[v] for v in lv_out), sizes)
    spill = outer.size[lv_out][b] + outer.size[lv_out][c] - inner.size[lv_in][groups]
    ok = (spill >= 1) & (spill < m) & outer.known[lv_out][b] & outer.known[lv_out][c]
    for j in np.flatnonzero(ok)[:MAX_FINDINGS].tolist():
        out.append(Finding(int(spill[j]), (
            Group(t_out, lv_out, int(b[j]), int(outer.size[lv_out][b[j]])),
            Group(t_out, lv_out, int(c[j]), int(outer.size[lv_out][c[j]]))),
            (Group(t_in, lv_in, int(groups[j]), int(inner.size[lv_in][groups[j]])),)))


def find(new: Shape, olds: Sequence[Shape], m: int,
         apart: dict[int, str] | None = None) -> list[Finding]:
    """Every population of 1 .. m-1 records isolated by the new table with the earlier ones.

    ``apart`` receives the positions (in ``olds``) of the earlier tables that share no
    record with the new one (``"disjoint"``), or whose shared records disagree with the
    variables both tables have (``"renumbered"``): record sets say nothing trustworthy
    about those pairs, which the caller compares by their variables instead.  And of
    those of which neither holds all the other's records (``"partial"``): compared by
    records *and* by their variables, as renaming one id of a subset makes it look
    like an overlap, which records alone would clear."""
    shapes = [new, *olds]
    keys = _Keys(shapes)
    edges = _Edges()
    pairings: dict[int, _Pairing] = {}
    found: list[Finding] = []
    seen: dict[int, Any] = {}
    for i, old in enumerate(olds, start=1):
        p = _join(new, old, seen)
        why = "disjoint" if not len(p.x) else None if _consistent(new, old, p) \
            else "renumbered"
        if why is not None:
            if apart is not None:
                apart[i - 1] = why
            continue
        if apart is not None and len(p.x) < min(len(new.records.ids), len(old.records.ids)):
            # Neither holds the other's records: one renamed id is enough for that, so the
            # pair is compared by its variables as well (records alone would clear it).
            apart[i - 1] = "partial"
        pairings[i] = p
        _contained(old, new, p.y, p.x, keys, i, 0, edges, m, found)
        _contained(new, old, p.x, p.y, keys, 0, i, edges, m, found)
    sup = np.concatenate(edges.sup) if edges.sup else np.zeros(0, np.int64)
    sub = np.concatenate(edges.sub) if edges.sub else np.zeros(0, np.int64)
    diff = keys.size[sup] - keys.size[sub]
    small = np.flatnonzero((diff >= 1) & (diff < m))
    for j in small[np.argsort(diff[small], kind="stable")][:MAX_FINDINGS].tolist():  # A - B
        a, b = keys.group(int(sup[j])), keys.group(int(sub[j]))
        found.append(Finding(a.size - b.size, (a,), (b,)))
    if len(found) < MAX_FINDINGS:
        found += _triples(shapes, keys, sup[diff >= m], sub[diff >= m], pairings, m,
                          MAX_FINDINGS - len(found))
    done: set[tuple[Any, ...]] = set()
    out: list[Finding] = []
    for f in sorted(found, key=lambda f: f.value)[:MAX_FINDINGS]:
        k = (tuple(sorted((g.table, g.level, g.gid) for g in f.plus)),
             tuple(sorted((g.table, g.level, g.gid) for g in f.minus)))
        if k not in done:
            done.add(k)
            out.append(f)
    return out


def _own_edges(shapes: Sequence[Shape], keys: _Keys, tables: Sequence[int],
               m: int) -> tuple[IntArray, IntArray]:
    """Each table's finer groups inside its coarser ones (known, not empty, leaving m+)."""
    sups, subs = [], []
    for t in tables:
        s = shapes[t]
        for fine, coarse, parent in s.own:
            ok = s.known[fine] & (s.size[fine] > 0) & s.known[coarse][parent] & \
                (s.size[coarse][parent] - s.size[fine] >= m)
            sups.append(keys.key(t, coarse, parent[ok]))
            subs.append(keys.key(t, fine, np.flatnonzero(ok)))
    if not sups:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(sups), np.concatenate(subs)


def _triples(shapes: Sequence[Shape], keys: _Keys, sup: IntArray, sub: IntArray,
             pairings: dict[int, _Pairing], m: int, limit: int) -> list[Finding]:
    """A - B - C: two disjoint populations inside A that leave 1 .. m-1 of it; and
    B + C - A: two overlapping populations inside A that cover it, leaving their 1 .. m-1
    shared records.  The new table among the three (not all of one table).  A pair that
    already leaves fewer than m is a finding of its own and is not combined further."""
    own_new = _own_edges(shapes, keys, [0], m)
    # an earlier table's own groups count only inside its groups that hold new ones
    holders = np.unique(sup[keys.table[sup] > 0])
    olds = sorted({int(t) for t in keys.table[holders]})
    own_old = _own_edges(shapes, keys, olds, m)
    keep = np.isin(own_old[0], holders)
    sup = np.concatenate([sup, own_new[0], own_old[0][keep]])
    sub = np.concatenate([sub, own_new[1], own_old[1][keep]])
    if not len(sup):
        return []
    big = int(keys.size.max()) + 2 * m + 2
    order = np.lexsort((keys.size[sub], sup))
    sup, sub = sup[order], sub[order]
    combined = sup * big + keys.size[sub]
    left = keys.size[sup] - keys.size[sub]  # what the first leaves of A
    lo = np.searchsorted(combined, sup * big + left - (m - 1), "left")
    hi = np.searchsorted(combined, sup * big + left - 1, "right")
    lo = np.maximum(lo, np.arange(len(sup)) + 1)
    a, b, c, ok = _candidates(sup, sub, lo, hi, keys)
    out: list[Finding] = []
    budget = [MAX_PAIR_CHECKS]
    for j in np.flatnonzero(ok).tolist():
        if len(out) >= limit:
            break
        ga, gb, gc = (keys.group(int(k)) for k in (a[j], b[j], c[j]))
        if _disjoint(shapes, pairings, gb, gc, budget) is not False:  # unknown: say so
            out.append(Finding(ga.size - gb.size - gc.size, (ga,), (gb, gc)))
    # B + C - A with B and C overlapping inside A: when B and C cover A, what is left is
    # their overlap, |B| + |C| - |A| records (two year windows and the whole span).
    lo = np.maximum(np.searchsorted(combined, sup * big + left + 1, "left"),
                    np.arange(len(sup)) + 1)
    hi = np.searchsorted(combined, sup * big + left + (m - 1), "right")
    if not (hi > lo).any() or len(out) >= limit:
        return out
    a, b, c, ok = _candidates(sup, sub, lo, hi, keys)
    for j in np.flatnonzero(ok).tolist():
        if len(out) >= limit:
            break
        ga, gb, gc = (keys.group(int(k)) for k in (a[j], b[j], c[j]))
        both = gb.size + gc.size - ga.size
        if _overlap(shapes, pairings, gb, gc, budget) == both:  # exactly: B and C cover A
            out.append(Finding(both, (gb, gc), (ga,), "overlap"))
    return out


def _candidates(sup: IntArray, sub: IntArray, lo: IntArray, hi: IntArray, keys: _Keys
                ) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Every (A, B, C) with A = ``sup[i]``, B = ``sub[i]`` and C = ``sub[j]`` for ``j`` in
    ``lo[i]:hi[i]``, and which of them are worth working out: at least one group of the
    new table, and not all three of one table."""
    count = np.maximum(hi - lo, 0)
    first = np.repeat(np.arange(len(sup)), count)
    second = (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
              + np.repeat(lo, count))
    b, c, a = sub[first], sub[second], sup[first]
    ta, tb, tc = keys.table[a], keys.table[b], keys.table[c]
    ok = ((ta == 0) | (tb == 0) | (tc == 0)) & ~((ta == tb) & (tb == tc))
    return a, b, c, ok


def _overlap(shapes: Sequence[Shape], pairings: dict[int, _Pairing], a: Group, b: Group,
             budget: list[int]) -> int | None:
    """How many records two populations share (None: not worked out, budget spent)."""
    if a.table == b.table:
        s = shapes[a.table]
        cells = s.records.cells
        return int(((s.gid[a.level][cells] == a.gid) & (s.gid[b.level][cells] == b.gid)).sum())
    if b.table == 0:
        a, b = b, a
    sa, sb = shapes[a.table], shapes[b.table]
    if a.table == 0:
        p = pairings.get(b.table)
        if p is None:
            return 0
    else:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        p = _join(sa, sb)
    return int(((sa.gid[a.level][p.x] == a.gid) & (sb.gid[b.level][p.y] == b.gid)).sum())


def _disjoint(shapes: Sequence[Shape], pairings: dict[int, _Pairing], a: Group, b: Group,
              budget: list[int]) -> bool | None:
    """Whether two populations share no record (None: not worked out, budget spent)."""
    if a.table == b.table:
        s = shapes[a.table]
        ca, cb = s.coords_of(a.level, a.gid), s.coords_of(b.level, b.gid)
        return any(ca[v] != cb[v] for v in set(ca) & set(cb))
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
        p = _join(sa, sb)
    inside = (sa.gid[a.level][p.x] == a.gid) & (sb.gid[b.level][p.y] == b.gid)
    return not bool(inside.any())


__all__ = ["Finding", "Group", "Shape", "find", "members", "shape_of"]
