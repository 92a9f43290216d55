"""Secondary suppression and the LP interval audit (statbarn.suppression, statbarn.intervals)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import ArrayLike
from scipy.optimize import linprog

from statbarn import suppression
from statbarn.errors import (
    InputError,
    NonFiniteError,
    StatbarnError,
    SuppressionError,
    TableTooLargeError,
)
from statbarn.suppression import (
    SuppressionResult,
    audit_intervals,
    protect_table,
    required_widths,
    round_to_base,
)

pytestmark = pytest.mark.unit

NAN = np.nan
INF = np.inf


def with_margins(body: ArrayLike, *, row_margin: bool, col_margin: bool) -> np.ndarray:
    table = np.asarray(body, dtype=np.float64)
    if row_margin:
        table = np.column_stack([table, table.sum(axis=1)])
    if col_margin:
        table = np.vstack([table, table.sum(axis=0)])
    return table


def mask(shape: tuple[int, int], *cells: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    for cell in cells:
        m[cell] = True
    return m


def protect(
    values: np.ndarray, primary: np.ndarray, *, row_margin: bool = True, col_margin: bool = True,
    min_width: float = 10.0, nonnegative: bool = True, max_cells: int = 20_000,
) -> SuppressionResult:
    return protect_table(values, primary, row_margin=row_margin, col_margin=col_margin,
                         protection_level=0.1, min_width=min_width, nonnegative=nonnegative,
                         max_cells=max_cells)


def naive_intervals(
    values: np.ndarray, hidden: np.ndarray, *, row_margin: bool, col_margin: bool,
    nonnegative: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference audit written independently: dense equations, min and max of every cell."""
    rows, cols = values.shape
    cells = [tuple(c) for c in np.argwhere(hidden)]
    index = {c: k for k, c in enumerate(cells)}
    equations: list[tuple[dict[int, float], float]] = []
    lines = []
    if row_margin:
        lines += [[(i, j) for j in range(cols)] for i in range(rows)]
    if col_margin:
        lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    for line in lines:
        coef: dict[int, float] = {}
        rhs = 0.0
        for pos, cell in enumerate(line):
            sign = -1.0 if pos == len(line) - 1 else 1.0
            if cell in index:
                coef[index[cell]] = sign
            else:
                rhs -= sign * values[cell]
        if coef:
            equations.append((coef, rhs))
    a = np.zeros((len(equations), len(cells)))
    b = np.zeros(len(equations))
    for e, (coef, rhs) in enumerate(equations):
        for k, v in coef.items():
            a[e, k] = v
        b[e] = rhs
    lower = np.full(values.shape, NAN)
    upper = np.full(values.shape, NAN)
    bounds = (0, None) if nonnegative else (None, None)
    for k, cell in enumerate(cells):
        c = np.zeros(len(cells))
        c[k] = 1.0
        eq = {"A_eq": a, "b_eq": b} if len(equations) else {}
        lo = linprog(c, bounds=bounds, method="highs", **eq)
        hi = linprog(-c, bounds=bounds, method="highs", **eq)
        lower[cell] = lo.fun if lo.status == 0 else -INF
        upper[cell] = -hi.fun if hi.status == 0 else INF
    return lower, upper


# --------------------------------------------------------------- hand-computed cases


def test_single_small_cell_gets_the_classic_rectangle() -> None:
    # body [[3, 20], [15, 40]] with margins; the cheapest rectangle through (0, 0)
    # is the whole body (cost 20+15+40 against 23+15+55 and more via margins).
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)))
    body_cells = mask(values.shape, (0, 0), (0, 1), (1, 0), (1, 1))
    np.testing.assert_array_equal(result.suppressed, body_cells)
    np.testing.assert_array_equal(result.primary, mask(values.shape, (0, 0)))
    np.testing.assert_array_equal(result.secondary, mask(values.shape, (0, 1), (1, 0), (1, 1)))
    # Published totals fix every line: x00 = 3+t, x01 = 20-t, x10 = 15-t, x11 = 40+t.
    # Nonnegativity: t >= -min(3, 40) = -3 and t <= min(20, 15) = 15.
    expected_lower = np.array([[0, 5, NAN], [0, 37, NAN], [NAN, NAN, NAN]])
    expected_upper = np.array([[18, 23, NAN], [18, 55, NAN], [NAN, NAN, NAN]])
    np.testing.assert_array_equal(result.lower, expected_lower)
    np.testing.assert_array_equal(result.upper, expected_upper)
    # Required: max(0.1 * value, 10) = 10 for all four; NaN where published.
    expected_req = np.where(result.suppressed, 10.0, NAN)
    np.testing.assert_array_equal(result.required_width, expected_req)


def test_only_the_primary_cell_is_exactly_recoverable() -> None:
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    lower, upper = audit_intervals(values, mask(values.shape, (0, 0)),
                                   row_margin=True, col_margin=True)
    assert lower[0, 0] == upper[0, 0] == 3.0
    assert np.isnan(lower[1, 1]) and np.isnan(upper[0, 1])


def test_row_pair_without_column_partner_is_recoverable() -> None:
    # Column 0 then holds a single hidden cell, which fixes it, then row 0 fixes (0, 1).
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    lower, upper = audit_intervals(values, mask(values.shape, (0, 0), (0, 1)),
                                   row_margin=True, col_margin=True)
    assert (lower[0, 0], upper[0, 0]) == (3.0, 3.0)
    assert (lower[0, 1], upper[0, 1]) == (20.0, 20.0)


def test_one_dimensional_table_needs_one_complement() -> None:
    values = with_margins([[4], [30], [12], [25]], row_margin=False, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)), row_margin=False)
    # Cheapest partner wide enough: 12 (width 4 + 12 = 16 >= 10), not the total.
    np.testing.assert_array_equal(result.suppressed, mask(values.shape, (0, 0), (2, 0)))
    assert (result.lower[0, 0], result.upper[0, 0]) == (0.0, 16.0)
    assert (result.lower[2, 0], result.upper[2, 0]) == (0.0, 16.0)


def test_one_dimensional_cell_with_total_is_unbounded() -> None:
    values = with_margins([[4], [30]], row_margin=False, col_margin=True)
    lower, upper = audit_intervals(values, mask(values.shape, (0, 0), (2, 0)),
                                   row_margin=False, col_margin=True)
    assert (lower[0, 0], upper[0, 0]) == (0.0, INF)
    assert (lower[2, 0], upper[2, 0]) == (30.0, INF)


def test_zero_complements_give_no_protection() -> None:
    body = [[3, 0, 0], [20, 30, 40], [25, 35, 45]]
    values = with_margins(body, row_margin=True, col_margin=True)
    # The rectangle through a zero: x00 = 3+t, x01 = 0-t, so t in [-3, 0].
    lower, upper = audit_intervals(values, mask(values.shape, (0, 0), (0, 1), (1, 0), (1, 1)),
                                   row_margin=True, col_margin=True)
    assert (lower[0, 0], upper[0, 0]) == (0.0, 3.0)
    assert (lower[0, 1], upper[0, 1]) == (0.0, 3.0)


def test_row_of_zeros_forces_margin_suppression() -> None:
    body = [[3, 0, 0], [20, 30, 40], [25, 35, 45]]
    values = with_margins(body, row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)))
    # Every rectangle within the body pairs (0, 0) with a zero, so the row
    # total must go: x00 = x03, and row 1 with its total complements it.
    np.testing.assert_array_equal(
        result.suppressed, mask(values.shape, (0, 0), (0, 3), (1, 0), (1, 3))
    )
    assert (result.lower[0, 0], result.upper[0, 0]) == (0.0, 23.0)
    assert (result.lower[0, 3], result.upper[0, 3]) == (0.0, 23.0)
    assert (result.lower[1, 3], result.upper[1, 3]) == (70.0, 93.0)


def test_primary_zero_needs_upward_room() -> None:
    values = with_margins([[0, 12], [11, 40]], row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)))
    width = result.upper[0, 0] - result.lower[0, 0]
    assert result.lower[0, 0] == 0.0
    assert width >= 10.0


def test_primary_margin_cell_is_protected() -> None:
    values = with_margins([[2, 3], [40, 50], [30, 20]], row_margin=True, col_margin=True)
    primary = mask(values.shape, (0, 0), (0, 1), (0, 2))  # the whole small row, total too
    result = protect(values, primary)
    width = (result.upper - result.lower)[result.suppressed]
    assert result.suppressed[primary].all()
    assert np.all(width >= result.required_width[result.suppressed])


def test_grand_total_primary() -> None:
    values = with_margins([[2, 1], [1, 3]], row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (2, 2)))
    assert result.suppressed[2, 2]
    assert result.upper[2, 2] - result.lower[2, 2] >= 10.0


def test_table_without_margins_needs_no_complement() -> None:
    values = np.array([[3.0, 20.0], [15.0, 40.0]])
    result = protect(values, mask(values.shape, (0, 0)), row_margin=False, col_margin=False)
    np.testing.assert_array_equal(result.suppressed, mask(values.shape, (0, 0)))
    assert (result.lower[0, 0], result.upper[0, 0]) == (0.0, INF)


def test_signed_table_intervals_are_points_or_lines() -> None:
    values = with_margins([[-3, 20], [15, -40]], row_margin=True, col_margin=True)
    hidden = mask(values.shape, (0, 0), (0, 1), (1, 0), (1, 1))
    lower, upper = audit_intervals(values, hidden, row_margin=True, col_margin=True,
                                   nonnegative=False)
    assert np.all(lower[hidden] == -INF) and np.all(upper[hidden] == INF)
    lower, upper = audit_intervals(values, mask(values.shape, (0, 0)),
                                   row_margin=True, col_margin=True, nonnegative=False)
    assert lower[0, 0] == upper[0, 0] == -3.0
    result = protect(values, mask(values.shape, (0, 0)), nonnegative=False)
    assert result.secondary.sum() == 3


def test_non_integer_sums() -> None:
    values = with_margins([[2.5, 20.25], [15.5, 40.0]], row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)), min_width=0.0)
    assert result.suppressed.sum() == 4
    assert result.lower[0, 0] == 0.0
    assert result.upper[0, 0] == pytest.approx(2.5 + 15.5)


def test_empty_primary_suppresses_nothing() -> None:
    values = with_margins([[30, 20], [15, 40]], row_margin=True, col_margin=True)
    result = protect(values, np.zeros(values.shape, dtype=bool))
    assert not result.suppressed.any()
    assert np.isnan(result.lower).all() and np.isnan(result.required_width).all()


# ------------------------------------------------------------------------- errors


def test_table_too_large() -> None:
    values = with_margins(np.full((10, 10), 20.0), row_margin=True, col_margin=True)
    with pytest.raises(TableTooLargeError, match="121 cells"):
        protect(values, mask(values.shape, (0, 0)), max_cells=120)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (np.array([[1.0, 2.0, 4.0], [3.0, 4.0, 7.0], [4.0, 6.0, 11.0]]), InputError),  # bad total
        (np.array([[1.0, NAN, 3.0], [3.0, 4.0, 7.0], [4.0, 6.0, 10.0]]), NonFiniteError),
        (np.array([[-1.0, 2.0, 1.0], [3.0, 4.0, 7.0], [2.0, 6.0, 8.0]]), InputError),  # negative
        (np.array([1.0, 2.0, 3.0]), InputError),  # 1-D
    ],
)
def test_bad_tables_are_refused(values: np.ndarray, error: type[StatbarnError]) -> None:
    hidden = np.zeros(values.shape, dtype=bool)
    with pytest.raises(error):
        audit_intervals(values, hidden, row_margin=True, col_margin=True)


def test_mask_shape_must_match() -> None:
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    with pytest.raises(InputError, match="shape"):
        protect(values, np.zeros((2, 2), dtype=bool))


def test_suppression_error_is_a_statbarn_error() -> None:
    assert issubclass(SuppressionError, StatbarnError)


# ---------------------------------------- safety net (never reached in normal use)


def test_audit_repairs_a_pattern_the_greedy_search_left_weak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(suppression, "_cover_primaries", lambda *args: None)
    values = with_margins([[3, 20, 7], [15, 40, 33], [22, 9, 50]], row_margin=True,
                          col_margin=True)
    primary = mask(values.shape, (0, 0), (2, 1))
    result = protect(values, primary)
    width = (result.upper - result.lower)[result.suppressed]
    assert result.suppressed[primary].all() and result.secondary.any()
    assert np.all(width >= result.required_width[result.suppressed])


def test_falls_back_to_suppressing_the_whole_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suppression._Hypercubes, "best", lambda *args, **kw: None)
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    result = protect(values, mask(values.shape, (0, 0)))
    assert result.suppressed.all()
    assert np.all(result.upper == INF) and np.all(result.lower == 0.0)


def test_raises_when_nothing_protects(monkeypatch: pytest.MonkeyPatch) -> None:
    def recoverable(x: np.ndarray, hidden: np.ndarray, **kw: bool) -> tuple[np.ndarray, ...]:
        point = np.where(hidden, x, NAN)
        return point, point

    monkeypatch.setattr(suppression, "interval_bounds", recoverable)
    values = with_margins([[3, 20], [15, 40]], row_margin=True, col_margin=True)
    with pytest.raises(SuppressionError, match="whole table"):
        protect(values, mask(values.shape, (0, 0)))


# ------------------------------------------------------------ widths and rounding


def test_required_widths() -> None:
    values = np.array([[3.0, 200.0], [0.0, -50.0]])
    np.testing.assert_array_equal(
        required_widths(values, protection_level=0.1, min_width=10.0),
        [[10.0, 20.0], [10.0, 10.0]],
    )


@pytest.mark.parametrize(("level", "width"), [(-0.1, 10.0), (0.1, NAN), (NAN, 0.0)])
def test_required_widths_refuses_bad_parameters(level: float, width: float) -> None:
    with pytest.raises(InputError):
        required_widths([1.0], protection_level=level, min_width=width)


def test_round_to_base_halves_go_up() -> None:
    values = np.array([[2.5, 7.5, 12.4, 12.5], [NAN, 0.0, -2.5, 3.0], [-7.5, 1.0, 97.5, 100.0]])
    expected = np.array([[5, 10, 10, 15], [NAN, 0, 0, 5], [-5, 0, 100, 100]], dtype=float)
    np.testing.assert_array_equal(round_to_base(values, 5), expected)
    np.testing.assert_array_equal(round_to_base([15, 14.999, 25], 10), [20.0, 10.0, 30.0])


def test_round_to_base_rejects_bad_base() -> None:
    with pytest.raises(InputError):
        round_to_base([1.0], 0)


# ------------------------------------------------------------------- properties

MARGINS = st.sampled_from([(True, True), (True, False), (False, True), (False, False)])


@st.composite
def tables(draw: st.DrawFn) -> tuple[np.ndarray, bool, bool]:
    rows, cols = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    # Many small values and zeros, so that rectangles through zeros are tested.
    cells = st.one_of(st.integers(0, 12), st.integers(0, 80))
    body = draw(arrays(np.int64, (rows, cols), elements=cells))
    row_margin, col_margin = draw(MARGINS)
    return with_margins(body, row_margin=row_margin, col_margin=col_margin), row_margin, col_margin


@settings(max_examples=50, deadline=None)
@given(
    data=tables(),
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.0, 0.1, 0.3]),
    level=st.sampled_from([0.05, 0.1, 0.3]),
    min_width=st.sampled_from([0.0, 1.0, 10.0]),
)
def test_protect_table_protects_every_suppressed_cell(
    data: tuple[np.ndarray, bool, bool], seed: int, density: float, level: float,
    min_width: float,
) -> None:
    values, row_margin, col_margin = data
    primary = np.random.default_rng(seed).random(values.shape) < density
    result = protect_table(values, primary, row_margin=row_margin, col_margin=col_margin,
                           protection_level=level, min_width=min_width)
    hidden = result.suppressed
    assert hidden[primary].all()
    np.testing.assert_array_equal(result.primary, primary)
    lower, upper = audit_intervals(values, hidden, row_margin=row_margin, col_margin=col_margin)
    np.testing.assert_array_equal(lower, result.lower)
    np.testing.assert_array_equal(upper, result.upper)
    assert np.all((lower[hidden] <= values[hidden]) & (values[hidden] <= upper[hidden]))
    width = upper[hidden] - lower[hidden]
    need = required_widths(values, protection_level=level, min_width=min_width)[hidden]
    assert np.all(width >= need)
    assert np.all(width > 0)
    assert np.isnan(lower[~hidden]).all() and np.isnan(result.required_width[~hidden]).all()


@settings(max_examples=40, deadline=None)
@given(data=tables(), seed=st.integers(0, 2**32 - 1), density=st.sampled_from([0.2, 0.5, 0.8]))
def test_audit_matches_naive_lp_and_contains_truth(
    data: tuple[np.ndarray, bool, bool], seed: int, density: float
) -> None:
    values, row_margin, col_margin = data
    hidden = np.random.default_rng(seed).random(values.shape) < density
    lower, upper = audit_intervals(values, hidden, row_margin=row_margin, col_margin=col_margin)
    assert np.all((lower[hidden] <= values[hidden]) & (values[hidden] <= upper[hidden]))
    assert np.isnan(lower[~hidden]).all() and np.isnan(upper[~hidden]).all()
    ref_lower, ref_upper = naive_intervals(values, hidden, row_margin=row_margin,
                                           col_margin=col_margin)
    np.testing.assert_allclose(lower, ref_lower, atol=1e-6)
    np.testing.assert_allclose(upper, ref_upper, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    body=arrays(np.float64, (4, 3), elements=st.floats(-50, 50, allow_nan=False, width=32)),
    seed=st.integers(0, 2**32 - 1),
)
def test_signed_audit_matches_naive_lp(body: np.ndarray, seed: int) -> None:
    values = with_margins(np.round(body, 2), row_margin=True, col_margin=True)
    hidden = np.random.default_rng(seed).random(values.shape) < 0.4
    lower, upper = audit_intervals(values, hidden, row_margin=True, col_margin=True,
                                   nonnegative=False)
    ref_lower, ref_upper = naive_intervals(values, hidden, row_margin=True, col_margin=True,
                                           nonnegative=False)
    np.testing.assert_allclose(lower, ref_lower, atol=1e-6)
    np.testing.assert_allclose(upper, ref_upper, atol=1e-6)
