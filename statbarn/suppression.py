"""Secondary (complementary) cell suppression with an exact interval audit.

Suppressing only the cells that fail a rule (the primary cells) protects
nothing when the table has margins: a hidden cell is the published total minus
the published rest of its row.  Like sdcTable and τ-ARGUS, :func:`protect_table`
hides further, cheap cells so that every hidden cell can only be pinned to an
interval at least its required width wide, and proves it with the linear
programming audit of :mod:`statbarn.intervals` before returning.

The search works on hypercubes (rectangles in a two-way table; pairs along a
line when only one direction has totals): moving ``+t`` and ``-t`` round the
corners of a rectangle keeps every row and column total, so the corners can
jointly shift by any ``t`` that keeps them nonnegative.  That range is a proven
lower bound on each corner's interval width, whatever else is hidden, because
hiding more cells only widens intervals.  Each primary cell gets the cheapest
rectangle (least value hidden, reusing cells already hidden) that is wide
enough for all its corners; redundant complements are then dropped while every
hidden cell keeps such a certificate; finally the LP audit gives the exact
intervals and, should it ever disagree, more cells are hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from statbarn.errors import InputError, SuppressionError, TableTooLargeError
from statbarn.intervals import (
    BoolArray,
    FloatArray,
    as_mask,
    as_table,
    audit_intervals,
    interval_bounds,
    line_signs,
)

__all__ = [
    "SuppressionResult",
    "audit_intervals",
    "protect_table",
    "required_widths",
    "round_to_base",
]

IntArray = NDArray[np.intp]

# Audit-and-repair rounds before falling back to hiding the whole table.  The
# certificates make the first audit pass in practice; this only bounds a
# pathological loop.
_REPAIR_ROUNDS = 10


@dataclass(frozen=True)
class SuppressionResult:
    """A protecting suppression pattern and the audited intervals behind it."""

    suppressed: BoolArray  # every suppressed cell (primary + secondary)
    primary: BoolArray  # the primary cells passed in
    lower: FloatArray  # lowest deducible value of each suppressed cell; NaN elsewhere
    upper: FloatArray  # highest deducible value (may be +inf); NaN elsewhere
    required_width: FloatArray  # protection each suppressed cell needs; NaN elsewhere

    @property
    def secondary(self) -> BoolArray:
        """Cells hidden only to protect others."""
        return self.suppressed & ~self.primary


def required_widths(values: ArrayLike, *, protection_level: float, min_width: float) -> FloatArray:
    """``max(protection_level * |value|, min_width)`` per cell."""
    if not (protection_level >= 0 and min_width >= 0):  # also refuses NaN
        raise InputError(
            f"protection_level ({protection_level}) and min_width ({min_width}) must be >= 0"
        )
    x = np.asarray(values, dtype=np.float64)
    return np.maximum(protection_level * np.abs(x), min_width)


def round_to_base(values: ArrayLike, base: int) -> FloatArray:
    """Every cell (margins included) to the nearest multiple of ``base``, halves up.

    ``base * floor(x / base + 0.5)``; NaN stays NaN.
    """
    if base < 1:
        raise InputError(f"the rounding base must be a positive integer, not {base}")
    x = np.asarray(values, dtype=np.float64)
    return np.asarray(base * np.floor(x / base + 0.5), dtype=np.float64)


def protect_table(
    values: ArrayLike,
    primary: ArrayLike,
    *,
    row_margin: bool,
    col_margin: bool,
    protection_level: float,
    min_width: float,
    nonnegative: bool = True,
    max_cells: int = 20_000,
) -> SuppressionResult:
    """Primary plus secondary suppression that protects every suppressed cell.

    On return, for every suppressed cell ``upper - lower >= required width``
    and ``upper - lower > 0``, as verified by :func:`audit_intervals`.

    Raises :class:`TableTooLargeError` when the table has more than
    ``max_cells`` cells, and :class:`SuppressionError` if no protecting pattern
    is found (not expected: hiding the whole table always protects it).
    """
    size = int(np.asarray(values).size)
    if size > max_cells:
        raise TableTooLargeError(
            f"the table has {size} cells; secondary suppression is limited to {max_cells} "
            "(profile key max_suppression_cells): split or coarsen the table"
        )
    x = as_table(values, row_margin=row_margin, col_margin=col_margin, nonnegative=nonnegative)
    prim = as_mask(primary, x.shape, "primary")
    req = required_widths(x, protection_level=protection_level, min_width=min_width)
    cubes = _Hypercubes(x, req, row_margin=row_margin, col_margin=col_margin,
                        nonnegative=nonnegative)
    hidden = prim.ravel().copy()
    certificates = _Certificates()
    _cover_primaries(cubes, hidden, certificates)
    _drop_redundant(cubes, hidden, prim.ravel(), certificates)

    def audit() -> tuple[FloatArray, FloatArray, BoolArray]:
        mask = hidden.reshape(x.shape)
        lo, hi = interval_bounds(x, mask, row_margin=row_margin, col_margin=col_margin,
                                 nonnegative=nonnegative)
        width = hi - lo
        weak = mask & ~((width >= req) & (width > 0))
        return lo, hi, weak

    lo, hi, weak = audit()
    for _round in range(_REPAIR_ROUNDS):
        if not weak.any():
            break
        added = False
        for cell in np.flatnonzero(weak):
            pick = cubes.best(int(cell), hidden, require_new=True)
            if pick is not None:
                hidden[pick] = True
                added = True
        if not added:
            break
        lo, hi, weak = audit()
    if weak.any():
        # Hiding everything leaves every cell unbounded above (each row, column
        # and the grand total can grow together), so this always protects.
        hidden[:] = True
        lo, hi, weak = audit()
    if weak.any():
        raise SuppressionError(
            f"{int(weak.sum())} suppressed cell(s) stay under-protected even with the whole "
            "table suppressed; the table cannot be released"
        )
    mask = hidden.reshape(x.shape)
    return SuppressionResult(
        suppressed=mask,
        primary=prim,
        lower=lo,
        upper=hi,
        required_width=np.where(mask, req, np.nan),
    )


class _Hypercubes:
    """Candidate complementary patterns through a cell and their protection.

    Through cell ``(i, j)`` with both margins, the candidates are the
    rectangles with opposite corner ``(r, c)``, evaluated for all ``(r, c)`` at
    once by broadcasting row ``i``, column ``j`` and the whole table; with one
    margin they are the pairs along the line.  Corner signs follow the line
    coefficients: along a line a body cell and the line's total move together,
    two body cells move oppositely.
    """

    def __init__(
        self, x: FloatArray, req: FloatArray, *, row_margin: bool, col_margin: bool,
        nonnegative: bool,
    ) -> None:
        self.x = x
        self.value = x.ravel()
        self.req = req
        # Information loss of hiding a cell: its value, plus one so that zeros
        # are not free and fewer cells win ties.
        self.cost = np.abs(x) + 1.0
        self.nonnegative = nonnegative
        self.row_margin, self.col_margin = row_margin, col_margin
        self.row_sign = line_signs(x.shape[0], col_margin).astype(np.float64)
        self.col_sign = line_signs(x.shape[1], row_margin).astype(np.float64)

    def best(
        self, cell: int, hidden: BoolArray, *, require_new: bool = False
    ) -> IntArray | None:
        """Flat indices of the corners (``cell`` included) of the cheapest
        hypercube wide enough for all of them.

        Cells already hidden cost nothing, so a result needing no new cell is a
        certificate that ``cell`` is protected by ``hidden`` as it stands.
        With ``require_new`` only hypercubes adding a cell are considered and,
        failing a protecting one, the widest is returned.  None when there is
        no candidate at all (a table without margins needs none).
        """
        rows, cols = self.x.shape
        i, j = divmod(cell, cols)
        hid = hidden.reshape(self.x.shape)
        # Each part: corner values, signs, hidden, cost, need; broadcastable
        # over the candidate grid (r, c).
        sa = -self.col_sign[j] * self.col_sign  # corner (i, c)
        sb = -self.row_sign[i] * self.row_sign  # corner (r, j)
        along_row = (self.x[i], sa, hid[i], self.cost[i], self.req[i])
        along_col = (self.x[:, j], sb, hid[:, j], self.cost[:, j], self.req[:, j])
        if self.row_margin and self.col_margin:
            parts = [
                tuple(a[np.newaxis, :] for a in along_row),
                tuple(a[:, np.newaxis] for a in along_col),
                (self.x, np.outer(sb, sa), hid, self.cost, self.req),
            ]
            valid: BoolArray = np.ones((rows, cols), dtype=np.bool_)
            valid[i, :] = valid[:, j] = False
        elif self.row_margin or self.col_margin:
            parts = [along_row if self.row_margin else along_col]
            valid = np.ones(cols if self.row_margin else rows, dtype=np.bool_)
            valid[j if self.row_margin else i] = False
        else:
            return None
        down: FloatArray | float = float(self.x[i, j])
        up: FloatArray | float = np.inf
        cost: FloatArray | float = 0.0
        need: FloatArray | float = float(self.req[i, j])
        for value, sign, is_hidden, cell_cost, cell_need in parts:
            # Shift t must keep "+" corners >= 0 (t >= -min) and "-" corners
            # >= 0 (t <= min); the cell itself is a "+" corner.
            down = np.minimum(down, np.where(sign > 0, value, np.inf))
            up = np.minimum(up, np.where(sign < 0, value, np.inf))
            cost = cost + np.where(is_hidden, 0.0, cell_cost)
            need = np.maximum(need, np.where(is_hidden, 0.0, cell_need))
        shape = valid.shape
        width = np.broadcast_to(np.asarray(down) + up if self.nonnegative else np.inf, shape)
        cost = np.broadcast_to(cost, shape)
        usable = valid & (width > 0)
        if require_new:
            usable &= cost > 0
        ok = usable & (width >= need)
        if not ok.any():
            if not (require_new and usable.any()):
                return None
            ok = usable & (width == width[usable].max())
        idx = np.flatnonzero(ok)
        flat_cost, flat_width = cost.ravel()[idx], width.ravel()[idx]
        cheapest = flat_cost == flat_cost.min()
        pick = int(idx[cheapest][np.argmax(flat_width[cheapest])])
        if self.row_margin and self.col_margin:
            r, c = divmod(pick, cols)
            corners = [i * cols + c, r * cols + j, r * cols + c]
        elif self.row_margin:
            corners = [i * cols + pick]
        else:
            corners = [pick * cols + j]
        return np.array([*corners, cell], dtype=np.intp)


class _Certificates:
    """Which hypercube proves each hidden cell protected, and who relies on whom."""

    def __init__(self) -> None:
        self.proof: dict[int, IntArray] = {}
        self.users: dict[int, set[int]] = {}

    def set(self, cell: int, corners: IntArray) -> None:
        self.forget(cell)
        self.proof[cell] = corners
        for c in corners.tolist():
            self.users.setdefault(c, set()).add(cell)

    def forget(self, cell: int) -> None:
        old = self.proof.pop(cell, None)
        if old is not None:
            for c in old.tolist():
                self.users[c].discard(cell)

    def relying_on(self, cell: int) -> list[int]:
        return sorted(self.users.get(cell, set()) - {cell})


def _cover_primaries(cubes: _Hypercubes, hidden: BoolArray, certs: _Certificates) -> None:
    # Hardest first: cells needing the widest interval have the fewest usable
    # rectangles, and their complements are then reused by easier cells.
    cells = np.flatnonzero(hidden)
    order = cells[np.lexsort((cubes.value[cells], -cubes.req.ravel()[cells]))]
    for cell in order.tolist():
        corners = cubes.best(cell, hidden)
        if corners is None:
            continue  # no margins, or left for the audit's repair rounds
        fresh = corners[~hidden[corners]]
        hidden[corners] = True
        # The hypercube's width was checked against every new corner's need
        # too, so it certifies them as well.
        for c in [cell, *fresh.tolist()]:
            certs.set(c, corners)


def _drop_redundant(
    cubes: _Hypercubes, hidden: BoolArray, primary: BoolArray, certs: _Certificates
) -> None:
    """Un-hide complements whose dependants can all be re-certified without them.

    Greedy cover order leaves some complements that later rectangles made
    unnecessary; the most valuable are tried first.
    """
    secondary = np.flatnonzero(hidden & ~primary)
    for cell in secondary[np.argsort(-cubes.cost.ravel()[secondary], kind="stable")].tolist():
        hidden[cell] = False
        replacements: dict[int, IntArray] = {}
        for dependant in certs.relying_on(cell):
            corners = cubes.best(dependant, hidden)
            if corners is None or not hidden[corners].all():
                hidden[cell] = True
                break
            replacements[dependant] = corners
        else:
            certs.forget(cell)
            for dependant, corners in replacements.items():
                certs.set(dependant, corners)
