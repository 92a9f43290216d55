"""Boundary decisions as exact arithmetic would make them.

Rules compare sums of floats with a limit (``top2 >= 0.9 * total``).  Binary
floating point cannot hold 0.7 or 0.2, so 0.7 + 0.2 < 0.9 in floats even
though the contributions given make exactly 90%.  We decide every cell in
floats, then re-decide the few cells whose float margin is within a small
band of the boundary with :class:`decimal.Decimal` over each float's shortest
repr (the decimal the value was written as).  When no exact total is known
for a boundary cell, the cell is decided as unsafe: noise never turns a
failing cell into a passing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal

import numpy as np

# Relative width of the band re-decided exactly.  Float sums of 10^7 terms
# carry relative errors far below this, so every boundary cell is caught.
BAND = 1e-6
_CTX = Context(prec=60)


def dec(x: float) -> Decimal:
    """The decimal a float was written as (its shortest round-tripping repr)."""
    return Decimal(repr(float(x)))


def exact_sum(values: Iterable[float]) -> Decimal:
    total = Decimal(0)
    for v in values:
        total = _CTX.add(total, dec(v))
    return total


def near(margin: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Cells whose float margin is within the band of zero, relative to their scale."""
    band: np.ndarray = np.abs(margin) <= BAND * np.maximum(np.abs(scale), 1e-300)
    return band


def nk_dominated_exact(top_values: Iterable[float], total: Decimal, k: float) -> bool:
    top_sum = sum((dec(v) for v in top_values), Decimal(0))
    return top_sum > 0 and _CTX.compare(top_sum, _CTX.multiply(dec(k), total)) >= 0


def p_percent_unsafe_exact(top1: float, top2: float, total: Decimal, p: float) -> bool:
    rest = _CTX.subtract(_CTX.subtract(total, dec(top1)), dec(top2))
    return _CTX.compare(rest, _CTX.multiply(dec(p), dec(top1))) < 0
