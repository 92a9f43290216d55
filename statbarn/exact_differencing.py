"""Differencing by records: :mod:`statbarn.populations`' findings, in words.

Used for every pair of tables that both carry their record sets over one
dataset; the others are compared by their variables (:mod:`statbarn.differencing`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from statbarn import populations as pop
from statbarn.errors import EvidenceError
from statbarn.findings import DifferencingFinding, name_of
from statbarn.ledger import LedgerTable

_NOUN = {"count": "record(s)"}


def _shape(t: LedgerTable) -> pop.Shape | None:
    if t._shape is None:
        try:
            sets = t.record_sets()
        except EvidenceError:
            return None  # a damaged entry: compared by its variables instead
        if sets is None:
            return None
        shape = pop.shape_of(t, sets)
        shape.key = _content(t)
        object.__setattr__(t, "_shape", shape)
    return t._shape  # type: ignore[no-any-return]


def _content(t: LedgerTable) -> str:
    """What set arithmetic sees of a table (records, variables, labels, what was shown),
    without which release it was: two releases with one content compare alike."""
    h = hashlib.sha256()
    rec = t.records or {}
    for part in (rec.get("id_type"), rec.get("ids"), rec.get("cell_type"), rec.get("cells"),
                 t.row_var, t.col_var, t.row_labels, t.col_labels, t.row_totals,
                 t.col_totals, t.grand_total,
                 None if t.published is None else t.published.tobytes()):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def exact_findings(new: LedgerTable, olds: Sequence[LedgerTable], m: int
                   ) -> tuple[list[DifferencingFinding], dict[str, list[LedgerTable]]]:
    """The findings by records, and the earlier tables record sets cannot decide, by why:
    ``disjoint`` (no record shared: ids the researcher may have shifted),
    ``renumbered`` (shared ids whose categories disagree: rows renumbered in the
    session), ``partial`` (neither holds all the other's records: compared by records
    too) and ``unreadable`` (a damaged entry).  The caller compares those by their
    variables."""
    shape = _shape(new)
    if shape is None:
        return [], {"unreadable": list(olds)}
    shapes = [(t, s) for t in olds if (s := _shape(t)) is not None]
    tables = [new] + [t for t, _ in shapes]
    all_shapes = [shape] + [s for _, s in shapes]
    # Releases of one content (a table released again, in another request) are compared
    # once, by the newest of them; each finding is then said of every one of them.
    same: dict[str, list[int]] = {}
    for k, (_, s) in enumerate(shapes, start=1):
        same.setdefault(s.key, []).append(k)
    reps = [ks[-1] for ks in same.values()]
    apart: dict[int, str] = {}
    found = pop.find(shape, [all_shapes[k] for k in reps], m, apart)
    rest: dict[str, list[LedgerTable]] = {}
    for i, why in sorted(apart.items()):
        rest.setdefault(why, []).extend(tables[k] for k in same[all_shapes[reps[i]].key])
    kept = {id(t) for t, _ in shapes}
    if len(kept) < len(olds):
        rest["unreadable"] = [t for t in olds if id(t) not in kept]
    out: list[pop.Finding] = []
    for f in found:
        f = _moved(f, {i + 1: k for i, k in enumerate(reps)})
        out.append(f)
        for k in sorted({g.table for g in (*f.plus, *f.minus) if g.table}):
            out += [_moved(f, {k: d}) for d in same[all_shapes[k].key] if d != k]
        if len(out) >= pop.MAX_FINDINGS:
            break
    return [_say(f, tables, all_shapes, new, m) for f in out[:pop.MAX_FINDINGS]], rest


def _moved(f: pop.Finding, to: dict[int, int]) -> pop.Finding:
    """The finding with its groups' tables renumbered (``to``: old number -> new)."""
    def g(x: pop.Group) -> pop.Group:
        return dataclasses.replace(x, table=to.get(x.table, x.table))
    return pop.Finding(f.value, tuple(map(g, f.plus)), tuple(map(g, f.minus)), f.kind)


def _say(f: pop.Finding, tables: Sequence[LedgerTable], shapes: Sequence[pop.Shape],
         new: LedgerTable, m: int) -> DifferencingFinding:
    def where(g: pop.Group) -> str:
        cell = shapes[g.table].describe(g.level, g.gid)
        return ", ".join(f"{k}={v}" if k else v for k, v in cell.items()) or "all records"

    def who(g: pop.Group) -> str:
        t = tables[g.table]
        name = "this table" if g.table == 0 else name_of(t)
        return name + (f" (population {t.population!r})" if t.population else "")

    counts = new.statistic in ("count", "size", "frequency")

    def term(g: pop.Group) -> str:  # a count table's cells are published; others' are not
        return f"{where(g)} [{g.size}] of {who(g)}" if counts else f"{where(g)} of {who(g)}"

    noun = _NOUN.get(new.statistic, "record(s)" if new.statistic in ("size", "frequency")
                     else "contributor(s)")
    if len(f.plus) == 1 and len(f.minus) == 1:
        (a,), (b,) = f.plus, f.minus
        kind = "nested_population"
        lead = f"Subtracting {term(b)} from {term(a)}"
        isolated = f"those in {where(a)} of {who(a)} and not in {where(b)} of {who(b)}"
    elif f.kind == "overlap":
        (b, c), (a,) = f.plus, f.minus
        kind = "overlap"
        lead = f"Adding {term(b)} and {term(c)} and subtracting {term(a)}"
        isolated = f"those in both {where(b)} of {who(b)} and {where(c)} of {who(c)}"
    elif len(f.plus) == 1:
        (a,), (b, c) = f.plus, f.minus
        kind = "complement"
        lead = f"Subtracting {term(b)} and {term(c)} from {term(a)}"
        isolated = f"those in {where(a)} and in neither of the others"
    else:
        (b, c), (a,) = f.plus, f.minus
        kind = "union"
        lead = f"Adding {term(b)} and {term(c)} and subtracting {term(a)}"
        isolated = f"those in {where(b)} or {where(c)} and not in {where(a)}"
    groups = [*f.plus, *f.minus]
    ids = list(dict.fromkeys(tables[g.table].release_id for g in groups if g.table))
    mine = next((g for g in groups if g.table == 0), None)
    row = col = None
    if mine is not None:
        cell = shapes[0].describe(mine.level, mine.gid)

        def side(names: tuple[str, ...]) -> object:
            got = [cell.get(n, "All") for n in names]
            return None if not got else got[0] if len(got) == 1 else tuple(got)

        row, col = side(new.row_var), side(new.col_var)
    terms = tuple(("" if g.table == 0 else tables[g.table].release_id,
                   shapes[g.table].describe(g.level, g.gid), g.size, s)
                  for gs, s in ((f.plus, 1), (f.minus, -1)) for g in gs)
    return DifferencingFinding(
        ids[0] if ids else "", kind, isolated, f.value, m,
        f"{lead} leaves {f.value} {noun} ({isolated}), fewer than the threshold of {m}.",
        tuple(ids[1:]), row, col, terms)


__all__ = ["exact_findings"]
