"""Interval audit: what an attacker can deduce about suppressed cells of an additive table.

A published table with some cells suppressed still constrains the hidden
cells: every row and column must add up to its (published or hidden) total,
and counts and sums of nonnegative contributions cannot be negative.  The
feasibility interval of a hidden cell is the smallest and largest value it can
take subject to those constraints; this is what τ-ARGUS and sdcTable audit,
and it is computed here exactly, by linear programming with HiGHS.

Table layout (shared with :mod:`statbarn.suppression`): ``values`` is a 2-D
array holding body and margins.  With ``row_margin`` the last column is each
row's total; with ``col_margin`` the last row is each column's total; with both
the bottom-right cell is the grand total (and is both the total of the margin
row and of the margin column).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from statbarn.errors import InputError, NonFiniteError, SuppressionError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Values (in units of the table's power-of-two scale) closer than this to a
# bound are taken to be at it.  HiGHS's own feasibility tolerance is 1e-7, so
# anything finer would be noise, and rounding towards "recoverable" is the safe
# direction.
_SNAP = 1e-7
# A solver value this small is an exact zero (a variable at its bound); only
# used to skip LPs, so being strict merely costs time.
_ZERO = 1e-12
# Relative tolerance for "the margins add up": float sums of many cells differ
# from the exact total in the last few bits, never by more than this.
_ADDITIVITY_RTOL = 1e-9


def as_table(
    values: ArrayLike, *, row_margin: bool, col_margin: bool, nonnegative: bool
) -> FloatArray:
    """``values`` as a float array, checked to be a table the audit can reason about."""
    x = np.array(values, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"a table must be 2-D (rows x columns); got {x.ndim} dimension(s)")
    rows, cols = x.shape
    if row_margin and cols < 2:
        raise InputError("a table with a row-total column needs at least one body column")
    if col_margin and rows < 2:
        raise InputError("a table with a column-total row needs at least one body row")
    if not np.all(np.isfinite(x)):
        raise NonFiniteError(
            "the table holds NaN or infinite cells; suppression needs every cell's value"
        )
    if nonnegative and np.any(x < 0):
        raise InputError(
            "the table holds negative values but was declared nonnegative; "
            "pass nonnegative=False for signed statistics"
        )
    lines = line_matrix(rows, cols, row_margin, col_margin)
    flat = x.ravel()
    residual = np.abs(lines @ flat)
    tolerance = _ADDITIVITY_RTOL * (abs(lines) @ np.abs(flat)) + _ADDITIVITY_RTOL
    bad = np.flatnonzero(residual > tolerance)
    if bad.size:
        raise InputError(
            f"{bad.size} row/column total(s) do not equal the sum of their cells "
            f"(largest discrepancy {residual[bad].max():g}); suppression needs exact margins"
        )
    return x


def as_mask(mask: ArrayLike, shape: tuple[int, ...], what: str) -> BoolArray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise InputError(f"the {what} mask has shape {m.shape}; the table has shape {shape}")
    if m.dtype != np.bool_:
        raise InputError(f"the {what} mask must be boolean, not {m.dtype}")
    return m.copy()


def line_signs(size: int, has_total: bool) -> NDArray[np.int8]:
    """Coefficient of each position along a line: +1 for body, -1 for the total."""
    signs = np.ones(size, dtype=np.int8)
    if has_total:
        signs[-1] = -1
    return signs


@lru_cache(maxsize=32)
def line_matrix(rows: int, cols: int, row_margin: bool, col_margin: bool) -> sp.csr_matrix:
    """Additivity as a sparse matrix: ``line_matrix(...) @ values.ravel() == 0``.

    One equation per row (when rows carry totals) and per column (when columns
    do); the margin row and column are themselves lines, so with both margins
    the grand total ties them together.  Built once per shape and reused.
    """
    grid = np.arange(rows * cols).reshape(rows, cols)
    blocks: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int8]]] = []
    if row_margin:
        line = np.repeat(np.arange(rows), cols)
        coef = np.tile(line_signs(cols, True), rows)
        blocks.append((line, grid.ravel(), coef))
    if col_margin:
        offset = rows if row_margin else 0
        line = offset + np.repeat(np.arange(cols), rows)
        coef = np.tile(line_signs(rows, True), cols)
        blocks.append((line, grid.T.ravel(), coef))
    n_lines = (rows if row_margin else 0) + (cols if col_margin else 0)
    if not blocks:
        return sp.csr_matrix((0, rows * cols))
    line_idx = np.concatenate([b[0] for b in blocks])
    cell_idx = np.concatenate([b[1] for b in blocks])
    coefs = np.concatenate([b[2] for b in blocks]).astype(np.float64)
    matrix = sp.csr_matrix((coefs, (line_idx, cell_idx)), shape=(n_lines, rows * cols))
    matrix.sort_indices()
    return matrix


def audit_intervals(
    values: ArrayLike,
    suppressed: ArrayLike,
    *,
    row_margin: bool,
    col_margin: bool,
    nonnegative: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Feasibility interval (lower, upper) of every suppressed cell.

    Exact linear programming (``scipy.optimize.linprog(method="highs")``):
    variables are the suppressed cells, equality constraints the table's
    additivity with every published cell as a constant, bounds ``>= 0`` when
    ``nonnegative``.  Each cell is minimised and maximised.  ``upper`` may be
    ``+inf`` (and ``lower`` ``-inf`` for signed tables).  NaN for published cells.
    """
    x = as_table(values, row_margin=row_margin, col_margin=col_margin, nonnegative=nonnegative)
    mask = as_mask(suppressed, x.shape, "suppressed")
    return interval_bounds(x, mask, row_margin=row_margin, col_margin=col_margin,
                           nonnegative=nonnegative)


def interval_bounds(
    x: FloatArray, mask: BoolArray, *, row_margin: bool, col_margin: bool, nonnegative: bool
) -> tuple[FloatArray, FloatArray]:
    """:func:`audit_intervals` on an already validated table."""
    lower = np.full(x.shape, np.nan)
    upper = np.full(x.shape, np.nan)
    cells = np.flatnonzero(mask)
    if cells.size == 0:
        return lower, upper
    # Power-of-two scaling is exact in floating point and keeps HiGHS's absolute
    # tolerances meaningful for tables of large sums.
    peak = float(np.max(np.abs(x)))
    scale = float(np.ldexp(1.0, np.frexp(peak)[1] - 1)) if peak > 0 else 1.0
    true = x.ravel()[cells] / scale
    lo = np.full(cells.size, 0.0 if nonnegative else -np.inf)
    hi = np.full(cells.size, np.inf)

    A = line_matrix(*x.shape, row_margin, col_margin)[:, cells].tocsr()
    fixed = _propagate_singletons(A)
    # A cell alone (among the unknowns) in some line equals that line's
    # published remainder: exactly recoverable without any LP.
    lo[fixed] = hi[fixed] = true[fixed]

    free = np.flatnonzero(~fixed)
    B = A[:, free].tocsr()
    active = np.flatnonzero(np.diff(B.indptr) > 0)
    B = B[active].tocsc()
    # Unknowns in no line (tables without margins) keep their bounds: [0, inf).
    linked = np.flatnonzero(np.diff(B.indptr) > 0)
    if linked.size:
        B = B[:, linked].tocsr()
        for comp_lines, comp_vars in _components(B):
            sub = B[comp_lines][:, comp_vars].tocsr()
            target = free[linked[comp_vars]]
            lo[target], hi[target] = _component_bounds(sub, true[target], nonnegative)

    lo, hi = _snap(lo * scale, hi * scale, x.ravel()[cells], scale, nonnegative)
    lower.ravel()[cells] = lo
    upper.ravel()[cells] = hi
    return lower, upper


def _propagate_singletons(A: sp.csr_matrix) -> BoolArray:
    """Unknowns fixed by a chain of lines each holding a single remaining unknown."""
    structure = abs(A).astype(np.int64).tocsr()
    structure.data[:] = 1
    fixed = np.zeros(A.shape[1], dtype=np.bool_)
    while True:
        open_vars = (~fixed).astype(np.int64)
        counts = structure @ open_vars
        single = np.flatnonzero(counts == 1)
        if single.size == 0:
            return fixed
        hits = structure[single].multiply(open_vars[np.newaxis, :]).tocoo()
        fixed[np.unique(hits.col)] = True


def _components(B: sp.csr_matrix) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Independent sub-problems: unknowns linked through shared lines.

    The LP separates over connected components of the line/unknown graph, and
    many small LPs are much cheaper than one big one solved repeatedly.
    """
    n_lines = B.shape[0]
    graph = sp.bmat([[None, B], [B.T, None]], format="csr")
    _, labels = connected_components(graph, directed=False)
    line_labels, var_labels = labels[:n_lines], labels[n_lines:]
    order_l, order_v = np.argsort(line_labels, kind="stable"), np.argsort(var_labels, kind="stable")
    out = []
    for label in np.unique(var_labels):
        lines = order_l[line_labels[order_l] == label]
        vars_ = order_v[var_labels[order_v] == label]
        out.append((lines, vars_))
    return out


def _component_bounds(
    A: sp.csr_matrix, true: FloatArray, nonnegative: bool
) -> tuple[FloatArray, FloatArray]:
    n = A.shape[1]
    # The right-hand side is recomputed from the true values so the true point
    # is feasible to the last bit; it equals the published remainder up to the
    # rounding already checked by as_table.
    b = A @ true
    bounds = (0.0, None) if nonnegative else (None, None)
    lo = np.full(n, 0.0 if nonnegative else -np.inf)
    hi = np.full(n, np.inf)
    # Each LP's optimum is a feasible point; a cell seen at 0 in any of them
    # has lower bound exactly 0 (its nonnegativity bound), so its minimisation
    # can be skipped.  Vertices are mostly zeros, so this saves most min-LPs.
    seen_zero = true <= 0
    for v in range(n):
        value, point = _optimise(A, b, v, -1.0, bounds)
        if point is not None:
            hi[v] = value
            seen_zero |= point <= _ZERO
        if not nonnegative:
            # The feasible set is an affine subspace: each coordinate is either
            # fixed or unbounded both ways, so one LP per cell decides both ends.
            lo[v] = -np.inf if point is None else value
    if nonnegative:
        for w in np.flatnonzero(~seen_zero).tolist():
            if seen_zero[w]:
                continue
            value, point = _optimise(A, b, w, 1.0, bounds)
            if point is None:
                raise SuppressionError("a nonnegative cell has no lower bound (solver fault)")
            lo[w] = value
            seen_zero |= point <= _ZERO
    return lo, hi


def _optimise(
    A: sp.csr_matrix, b: FloatArray, var: int, sense: float,
    bounds: tuple[float | None, float | None],
) -> tuple[float, FloatArray | None]:
    """Optimum of ``sense * x[var]``, and the optimal point (None when unbounded)."""
    c = np.zeros(A.shape[1])
    c[var] = sense
    options: dict[str, bool] = {}
    for _attempt in range(2):
        res = linprog(c, A_eq=A, b_eq=b, bounds=bounds, method="highs", options=options)
        if res.status == 0:
            point = np.asarray(res.x, dtype=np.float64)
            return float(point[var]), point
        if res.status == 3:
            return float(np.inf), None
        # HiGHS's presolve can only say "infeasible or unbounded"; the true
        # table is feasible, so solve once more without presolve to decide.
        options = {"presolve": False}
    raise SuppressionError(f"the interval audit's linear program failed: {res.message}")


def _snap(
    lo: FloatArray, hi: FloatArray, true: FloatArray, scale: float, nonnegative: bool
) -> tuple[FloatArray, FloatArray]:
    """Remove solver noise so that "exactly recoverable" is exactly width 0."""
    # The true point is feasible, so the exact bounds enclose it: a bound on
    # the wrong side of it is solver noise.
    lo = np.minimum(lo, true)
    hi = np.maximum(hi, true)
    if np.all(true == np.round(true)) and scale < 2.0**52:
        # The additivity matrix of a two-way table with margins is totally
        # unimodular, so with integer cells every LP optimum is an integer.
        lo = np.where(np.isfinite(lo), np.round(lo), lo)
        hi = np.where(np.isfinite(hi), np.round(hi), hi)
    else:
        # Snapping to the true value can only narrow an interval: the safe way
        # to round, since a width within noise of 0 must count as recoverable.
        tol = _SNAP * scale
        lo = np.where(np.abs(lo - true) <= tol, true, lo)
        hi = np.where(np.abs(hi - true) <= tol, true, hi)
    if nonnegative:
        lo = np.maximum(lo, 0.0)
    return lo, hi
