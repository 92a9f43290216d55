"""Benchmark: secondary suppression of a 50 x 20 count table with both margins.

Run with ``.venv/bin/python benchmarks/bench_suppression.py``.  Prints, per
seed, the time of ``protect_table`` (which ends with the full LP audit), the
time of a separate ``audit_intervals`` of the returned pattern, and the number
of primary and secondary cells.  Exits 1 if any protect run takes 5 s or more.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statbarn.suppression import audit_intervals, protect_table

LIMIT_S = 5.0
ROWS, COLS = 50, 20
MIN_COUNT = 10
# (seed, negative binomial shape n, mean): about 5% and 9% of cells below 10.
CASES = [(seed, n, mean) for seed in range(3) for n, mean in ((3.0, 40.0), (2.0, 40.0))]


def make_table(seed: int, shape: float, mean: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    body = rng.negative_binomial(shape, shape / (shape + mean), size=(ROWS, COLS)).astype(float)
    table = np.zeros((ROWS + 1, COLS + 1))
    table[:ROWS, :COLS] = body
    table[:ROWS, COLS] = body.sum(axis=1)
    table[ROWS, :] = table[:ROWS, :].sum(axis=0)
    return table


def main() -> int:
    worst = 0.0
    print(f"{'seed':>4} {'nb n':>5} {'mean':>5} {'primary':>7} {'secondary':>9} "
          f"{'margins':>7} {'protect s':>9} {'audit s':>8}")
    for seed, shape, mean in CASES:
        table = make_table(seed, shape, mean)
        primary = table < MIN_COUNT
        start = time.perf_counter()
        result = protect_table(table, primary, row_margin=True, col_margin=True,
                               protection_level=0.1, min_width=MIN_COUNT)
        protect_s = time.perf_counter() - start
        start = time.perf_counter()
        lower, upper = audit_intervals(table, result.suppressed, row_margin=True,
                                       col_margin=True)
        audit_s = time.perf_counter() - start
        hidden = result.suppressed
        width = (upper - lower)[hidden]
        assert np.all(width >= result.required_width[hidden]) and np.all(width > 0)
        assert np.all((lower[hidden] <= table[hidden]) & (table[hidden] <= upper[hidden]))
        margin_cells = int(hidden[ROWS, :].sum() + hidden[:ROWS, COLS].sum())
        worst = max(worst, protect_s)
        print(f"{seed:>4} {shape:>5g} {mean:>5g} {int(primary.sum()):>7} "
              f"{int(result.secondary.sum()):>9} {margin_cells:>7} {protect_s:>9.3f} "
              f"{audit_s:>8.3f}")
    print(f"slowest protect_table: {worst:.3f} s (limit {LIMIT_S} s)")
    return 0 if worst < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
