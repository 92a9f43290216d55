"""Category labels as sets, and what two differently banded tables reveal together.

Used by :mod:`statbarn.differencing`.  Two things live here:

* **Parsing.**  Numeric band labels become half-open intervals between *cuts*
  (``"0-17"``, ``"65+"``, ``"<5"``, ``"5 to 9"``, ``"[0, 18)"``, pandas'
  ``"(0.0, 18.0]"``, ``"under 5"``, ``"65 and over"``); categorical labels that
  name a union of other labels (``"A or B"``, ``"A/B"``) or the rest
  (``"Other"``) become sets of elementary categories ("atoms").
* **Derivation.**  Given the published counts of bands (or category sets) from
  tables of one population, which unpublished intervals (or atoms) have an
  exactly determined count?  Intervals: a system of difference constraints on
  the cumulative count at each cut, solved by batched Floyd-Warshall (exact for
  every interval, nonnegativity included, no LP).  Category sets: linear
  programming with HiGHS, as in :mod:`statbarn.intervals`.

Dash ranges read as integer (or fixed-decimal) data: ``"16-17"`` is ``[16, 18)``
and ``"18.5-24.9"`` is ``[18.5, 25.0)``; bracketed intervals are taken literally.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

Value = Fraction | float  # a float only for the infinities
Cut = tuple[Value, int]  # (value, side): -1 just below the value, +1 just above it
Interval = tuple[Cut, Cut]
FloatArray = NDArray[np.float64]

REST = "\x00rest"  # the atom of categories no table names
_NUM = r"-?\d+(?:\.\d+)?"
_BOUND = rf"(?:{_NUM}|[+-]?inf)"
_OTHER = {"other", "others", "all other", "all others", "rest", "remainder", "other categories"}
_SEP = re.compile(r"\s+or\s+|\s+and\s+|\s*[|/+&,;]\s*", re.IGNORECASE)


def _num(text: str) -> Value:
    text = text.lstrip("+")
    if text.endswith("inf"):
        return -math.inf if text.startswith("-") else math.inf
    return Fraction(text)


def _step(*texts: str) -> Fraction:
    decimals = max(len(t.partition(".")[2]) for t in texts)
    return Fraction(1, 10**decimals)


def _patterns() -> list[tuple[re.Pattern[str], str]]:
    kinds = {
        "range": rf"({_NUM})\s*(?:-|to)\s*({_NUM})",
        "bracket": rf"([\[(])\s*({_BOUND})\s*,\s*({_BOUND})\s*([\])])",
        "ge": rf"({_NUM})\s*(?:\+|plus|(?:and|or)\s+(?:over|above|more|older|greater))"
        rf"|>=\s*({_NUM})",
        "gt": rf"(?:>|over|above|more than|older than|greater than)\s*({_NUM})",
        "lt": rf"(?:<|under|below|less than|fewer than|younger than)\s*({_NUM})",
        "le": rf"<=\s*({_NUM})|({_NUM})\s*(?:or|and)\s+(?:under|below|less|fewer|younger)"
        rf"|up to\s*({_NUM})",
        "single": rf"({_NUM})",
    }
    return [(re.compile(f"^(?:{rx})$"), kind) for kind, rx in kinds.items()]


_PATTERNS = _patterns()


@lru_cache(maxsize=4096)
def parse_interval(label: str) -> Interval | None:
    """The interval a band label stands for, or ``None`` if it is not a numeric band."""
    text = re.sub(r"\s+", " ", str(label).strip().lower())
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2265", ">=")
    text = re.sub(r"^(?:aged?|ages) ", "", text.replace("\u2264", "<="))
    for pattern, kind in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        g = [x for x in match.groups() if x is not None]
        if kind == "range":
            lo, hi = _num(g[0]), _num(g[1]) + _step(g[0], g[1])
            return ((lo, -1), (hi, -1)) if lo < hi else None
        if kind == "bracket":
            lo, hi = _num(g[1]), _num(g[2])
            side_lo = -1 if g[0] == "[" else 1
            side_hi = -1 if g[3] == ")" else 1
            return ((lo, side_lo), (hi, side_hi)) if lo < hi else None
        if kind == "single":
            return ((_num(g[0]), -1), (_num(g[0]) + _step(g[0]), -1))
        bound = _num(g[0])
        return {
            "ge": ((bound, -1), (math.inf, -1)),
            "gt": ((bound, 1), (math.inf, -1)),
            "lt": ((-math.inf, -1), (bound, -1)),
            "le": ((-math.inf, -1), (bound, 1)),
        }[kind]
    unit = re.match(r"^(.*\S)\s+[a-z]+\.?$", text)  # "65+ years", "under 5 yrs"
    return parse_interval(unit.group(1)) if unit else None


def parse_intervals(labels: Sequence[str]) -> list[Interval] | None:
    """Every label as an interval, or ``None`` unless all of them are bands."""
    out = [parse_interval(x) for x in labels]
    return None if any(iv is None for iv in out) else [iv for iv in out if iv is not None]


def _fmt(v: Value) -> str:
    if isinstance(v, Fraction) and v.denominator == 1:
        return str(v.numerator)
    return str(float(v))


@lru_cache(maxsize=4096)
def describe(iv: Interval) -> str:
    """A readable, injective name: ``"16-17"``, ``"65+"``, ``"<5"``, ``"(0.5, 1.5]"``."""
    (lo, slo), (hi, shi) = iv
    if lo == -math.inf:
        return ("<" if shi < 0 else "<=") + _fmt(hi)
    if hi == math.inf:
        return f"{_fmt(lo)}+" if slo < 0 else f">{_fmt(lo)}"
    whole = isinstance(lo, Fraction) and isinstance(hi, Fraction) and lo.denominator == 1
    if slo < 0 and shi < 0 and whole and isinstance(hi, Fraction) and hi.denominator == 1:
        return _fmt(lo) if hi == lo + 1 else f"{_fmt(lo)}-{_fmt(hi - 1)}"
    return f"{'[' if slo < 0 else '('}{_fmt(lo)}, {_fmt(hi)}{')' if shi < 0 else ']'}"


def overlap_partially(a: Sequence[Interval], b: Sequence[Interval]) -> bool:
    """Some band of ``a`` overlaps some band of ``b`` without being equal to it."""
    rank = {c: i for i, c in enumerate(sorted({c for iv in (*a, *b) for c in iv}))}
    x = np.array([[rank[lo], rank[hi]] for lo, hi in a], dtype=np.int64).reshape(-1, 1, 2)
    y = np.array([[rank[lo], rank[hi]] for lo, hi in b], dtype=np.int64).reshape(1, -1, 2)
    meet = (x[..., 0] < y[..., 1]) & (y[..., 0] < x[..., 1])
    return bool((meet & ((x[..., 0] != y[..., 0]) | (x[..., 1] != y[..., 1]))).any())


def category_sets(
    tables: Sequence[Sequence[str]],
) -> list[dict[str, frozenset[str]]] | None:
    """Each table's labels as sets of atoms, or ``None`` when no label is a union.

    A label is a union when it splits (on ``and``, ``/``, ``|``, ``+``, ``&``,
    ``,``) into parts that are all labels (``"Asian/Asian British"`` is not,
    unless both are labels), or on ``or`` into parts one of which is a label;
    ``"Other"`` is every atom its own table does not name, plus :data:`REST`.
    """
    every = {x for labels in tables for x in labels}
    pieces = {x: [p.strip() for p in _SEP.split(x) if p.strip()] for x in every}
    plain = {x.strip().lower() for x in every if len(pieces[x]) == 1}

    def parts(label: str) -> list[str] | None:
        split = pieces[label]
        known = [p.lower() in plain for p in split]
        loose = re.search(r"\s+or\s+", label, re.IGNORECASE)  # "B or C": B need not be a label
        return split if len(split) > 1 and (any(known) if loose else all(known)) else None

    lookup = {x.strip().lower(): x for x in every if parts(x) is None}
    for x in every:
        for p in parts(x) or []:
            lookup.setdefault(p.lower(), p)
    atoms = {x for x in lookup.values() if x.strip().lower() not in _OTHER} | {REST}
    if all(parts(x) is None and x.strip().lower() not in _OTHER for x in every):
        return None
    out = []
    for labels in tables:
        sets: dict[str, frozenset[str]] = {}
        for x in labels:
            split = parts(x)
            if split is not None:
                sets[x] = frozenset(lookup.get(p.lower(), p) for p in split)
            elif x.strip().lower() not in _OTHER:
                sets[x] = frozenset([x])
        covered = frozenset().union(*sets.values()) if sets else frozenset()
        for x in labels:
            if x.strip().lower() in _OTHER:
                sets[x] = frozenset(atoms - covered)
        out.append(sets)
    return out


def set_name(atoms: frozenset[str]) -> str:
    return " or ".join(sorted("other" if a == REST else a for a in atoms))


@dataclass
class Alignment:
    """One variable's labels in several tables, on a common footing.

    ``names``: the union of the tables' labels, canonical (``"[0, 18)"`` and
    ``"0-17"`` are one band); ``remap[t][i]``: index in ``names`` of table
    ``t``'s ``i``-th label.  ``kind`` is ``"bands"`` (with ``cuts`` and each
    name's ``spans``) or ``"categories"`` (with ``atoms`` and each name's
    ``members``) when the tables partition the variable differently.
    """

    names: list[str]
    remap: list[NDArray[np.int64]]
    kind: str | None = None
    cuts: list[Cut] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    atoms: list[str] = field(default_factory=list)
    members: list[frozenset[str]] = field(default_factory=list)

    def derive(
        self, own: Sequence[list[int]], values: FloatArray, limit: int
    ) -> list[tuple[int, int, int, str, int]]:
        """Small counts that tables of one population give away together.

        ``own[t]``: the names table ``t`` publishes; ``values[ctx]``: for each
        table in turn, its count of each of them and then its total (NaN: not
        published).  Returns ``(ctx, first, last, label, count)`` where
        ``first..last`` are cut indices (bands) or ``first == last`` is an atom.
        """
        values = values.copy()
        end = np.cumsum([len(mine) + 1 for mine in own]) - 1  # the totals' columns
        if self.kind == "bands":
            spans = []
            for t, mine in enumerate(own):
                tiles = sorted(self.spans[u] for u in mine)
                if any(a[1] != b[0] for a, b in itertools.pairwise(tiles)):
                    values[:, end[t]] = np.nan  # gaps or overlaps: the total is no band
                spans += [self.spans[u] for u in mine] + [(tiles[0][0], tiles[-1][1])]
            found = derive_intervals(len(self.cuts), spans, values, limit)[0]
            return [(c, i, j, describe((self.cuts[i], self.cuts[j])), x) for c, i, j, x in found]
        sets = []
        for t, mine in enumerate(own):
            parts = [self.members[u] for u in mine]
            union = frozenset().union(*parts)
            if sum(map(len, parts)) != len(union):
                values[:, end[t]] = np.nan  # overlapping categories: the total is no union
            sets += [*parts, union]
        grid = np.array([[a in s for a in self.atoms] for s in sets], dtype=bool)
        return [(c, a, a, "other" if self.atoms[a] == REST else self.atoms[a], x)
                for c, a, x in derive_sets(grid, values, limit)]


def align(tables: Sequence[Sequence[str]]) -> Alignment:
    """Put one variable's labels from several tables on a common footing."""
    canon = [{x: x for x in labels} for labels in tables]
    kind, parsed, sets = None, {}, None
    if len({frozenset(x) for x in tables}) > 1:
        ivs = [parse_intervals(x) for x in tables]
        if all(iv is not None for iv in ivs):
            found = [iv or [] for iv in ivs]
            canon = [{x: describe(i) for x, i in zip(o, f, strict=True)}
                     for o, f in zip(tables, found, strict=True)]
            parsed = {describe(i): i for f in found for i in f}
            if any(overlap_partially(a, b) for a in found for b in found):
                kind = "bands"
        elif (sets := category_sets(tables)) is not None:
            canon = [{x: set_name(d[x]) for x in o} for o, d in zip(tables, sets, strict=True)]
            kind = "categories"
    names = list(dict.fromkeys(c for m in canon for c in m.values()))
    index = {n: i for i, n in enumerate(names)}
    remap = [np.array([index[m[x]] for x in o], dtype=np.int64)
             for o, m in zip(tables, canon, strict=True)]
    out = Alignment(names, remap, kind)
    if kind == "bands":
        out.cuts = sorted({c for n in names for c in parsed[n]})
        place = {c: i for i, c in enumerate(out.cuts)}
        out.spans = [(place[parsed[n][0]], place[parsed[n][1]]) for n in names]
    elif sets is not None:
        merged = {set_name(v): v for d in sets for v in d.values()}
        out.atoms = sorted(set().union(*merged.values()))
        out.members = [merged[n] for n in names]
    return out


def derive_intervals(
    n_cuts: int, bands: Sequence[tuple[int, int]], values: FloatArray, limit: int
) -> tuple[list[tuple[int, int, int, int]], NDArray[np.bool_]]:
    """Intervals between cuts whose count is determined, small and not published.

    ``bands[b] = (i, j)``: band ``b`` runs from cut ``i`` to cut ``j`` (cuts in
    increasing order); ``values[ctx, b]`` is its published count in context
    ``ctx`` (NaN when not published).  Returns ``(ctx, i, j, count)`` for each
    interval from cut ``i`` to cut ``j`` whose count is exactly determined, in
    ``[1, limit - 1]``, not a sum of published bands, and containing no smaller
    such interval; and, per context, whether the bands are consistent at all
    (they are not when the tables do not describe the same population).
    """
    k, n = values.shape[0], n_cuts
    # dist[ctx, u, v] bounds P(v) - P(u) from above, P being the cumulative count.
    dist = np.full((k, n, n), np.inf)
    idx = np.arange(n)
    dist[:, idx, idx] = 0.0
    dist[:, idx[1:], idx[:-1]] = 0.0  # counts are nonnegative: P never decreases
    published = np.zeros((k, n, n), dtype=bool)
    for b, (i, j) in enumerate(bands):
        v = values[:, b]
        known = ~np.isnan(v)
        dist[known, i, j] = np.minimum(dist[known, i, j], v[known])
        dist[known, j, i] = np.minimum(dist[known, j, i], -v[known])
        published[known, i, j] = True
    for m in range(n):
        np.minimum(dist, dist[:, :, m, None] + dist[:, None, m, :], out=dist)
    consistent = np.all(np.diagonal(dist, axis1=1, axis2=2) >= 0, axis=1)
    upper, lower = dist, -np.swapaxes(dist, 1, 2)
    small = (
        np.triu(np.ones((n, n), dtype=bool), 1)
        & consistent[:, None, None]
        & np.isfinite(upper)
        & (upper == lower)
        & (upper >= 1)
        & (upper < limit)
    )
    hits = np.flatnonzero(small.any(axis=(1, 2)))
    found: list[tuple[int, int, int, int]] = []
    if hits.size == 0:
        return found, consistent
    reach = published[hits]  # sums of consecutive published bands are published too
    for m in range(n):
        reach |= reach[:, :, m, None] & reach[:, None, m, :]
    cand = small[hits] & ~reach
    # Keep the minimal ones: no other candidate lies inside [i, j].
    inside = np.cumsum(np.cumsum(cand[:, ::-1, :], axis=1)[:, ::-1, :], axis=2)
    for c, i, j in np.argwhere(cand & (inside == 1)).tolist():
        found.append((int(hits[c]), i, j, int(upper[hits[c], i, j])))
    return found, consistent


def derive_sets(
    membership: NDArray[np.bool_], values: FloatArray, limit: int
) -> list[tuple[int, int, int]]:
    """Atoms whose count is determined, small and not itself published.

    ``membership[s, a]``: category set ``s`` contains atom ``a``;
    ``values[ctx, s]`` its published count (NaN when not published).  Each
    candidate atom is minimised and maximised over the nonnegative solutions
    (HiGHS); contexts whose counts admit no solution (different populations)
    are skipped.  Returns ``(ctx, atom, count)``.
    """
    found: list[tuple[int, int, int]] = []
    n_atoms = membership.shape[1]
    for ctx in range(values.shape[0]):
        known = ~np.isnan(values[ctx])
        rows = membership[known].astype(np.float64)
        b = values[ctx, known]
        singles = {int(np.argmax(r)) for r in rows if r.sum() == 1}
        covered = rows.any(axis=0)
        bounds = (0.0, float(b.sum()) + 1.0)
        for atom in range(n_atoms):
            if atom in singles or not covered[atom]:
                continue
            ends = []
            for sense in (1.0, -1.0):
                c = np.zeros(n_atoms)
                c[atom] = sense
                res = linprog(c, A_eq=rows, b_eq=b, bounds=bounds, method="highs")
                if res.status != 0:
                    break
                ends.append(float(res.x[atom]))
            if len(ends) < 2:
                if res.status == 2:  # infeasible: not one population
                    break
                continue
            # Counts are whole: a range holding one integer pins the count down.
            tol = 1e-9 * bounds[1] + 1e-6
            value = math.ceil(ends[0] - tol)
            if value == math.floor(ends[1] + tol) and 1 <= value < limit:
                found.append((ctx, atom, value))
    return found
