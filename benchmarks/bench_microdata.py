"""Benchmark: statbarn.check_microdata against plain pandas groupby and pycanon.

    .venv/bin/python benchmarks/bench_microdata.py [--rows N] [--pycanon-cap SECONDS]

Data: N records (default 10^6) with five quasi-identifiers (age 0-99, sex 2
levels, region 50 strings, ethnicity 6 strings, year 10 levels) and one
sensitive attribute (diagnosis, 200 strings).  No missing values, because
pycanon's groupby drops them while statbarn and ``groupby(dropna=False)`` keep
them as a class.

Timed (best of 3, ``time.perf_counter``, no tracemalloc), on the same data:

1. statbarn ``check_microdata`` (k and l, with flags and suggestions);
2. plain pandas: ``groupby(qis, dropna=False).size().min()`` and
   ``groupby(qis, dropna=False)[sensitive].nunique().min()``;
3. pycanon ``k_anonymity`` + ``l_diversity``, on a 10^5-record subsample and, in a
   child process killed after ``--pycanon-cap`` seconds, on all N records (one
   run there: it takes minutes, so noise does not matter).

Exits non-zero if statbarn is slower than 2x pandas, less than 20x faster than
pycanon on any size pycanon completed, or if the three disagree on k or l.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from statbarn.microdata import check_microdata

QIS = ["age", "sex", "region", "ethnicity", "year"]
# Coarser quasi-identifiers for an agreement check where k and l are not trivially 1.
COARSE_QIS = ["age_band", "sex", "ethnicity", "year"]
SENSITIVE = "diagnosis"
SUBSAMPLE = 100_000
REPEATS = 3


def make_data(rows: int, seed: int = 20240601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regions = np.array([f"region-{i:02d}" for i in range(50)], dtype=object)
    ethnicities = np.array(["asian", "black", "mixed", "white", "other", "unknown"], dtype=object)
    diagnoses = np.array([f"ICD-{i:03d}" for i in range(200)], dtype=object)
    return pd.DataFrame(
        {
            "age": rng.integers(0, 100, rows),
            "sex": np.array(["F", "M"], dtype=object)[rng.integers(0, 2, rows)],
            "region": regions[rng.integers(0, 50, rows)],
            "ethnicity": ethnicities[rng.integers(0, 6, rows)],
            "year": rng.integers(2010, 2020, rows),
            SENSITIVE: diagnoses[rng.integers(0, 200, rows)],
        }
    )


def best_of(fn: Callable[[], tuple[int, int]], repeats: int = REPEATS) -> tuple[float, int, int]:
    best = float("inf")
    k = l_ = -1
    for _ in range(repeats):
        start = time.perf_counter()
        k, l_ = fn()
        best = min(best, time.perf_counter() - start)
    return best, k, l_


def run_statbarn(df: pd.DataFrame, qis: list[str] = QIS) -> tuple[int, int]:
    result = check_microdata(df, qis, SENSITIVE)
    assert result.l is not None
    return result.k, result.l


def run_pandas(df: pd.DataFrame, qis: list[str] = QIS) -> tuple[int, int]:
    k = int(df.groupby(qis, dropna=False).size().min())
    l_ = int(df.groupby(qis, dropna=False)[SENSITIVE].nunique().min())
    return k, l_


def run_pycanon(df: pd.DataFrame, qis: list[str] = QIS) -> tuple[int, int]:
    from pycanon import anonymity

    k = int(anonymity.k_anonymity(df, qis))
    l_ = int(anonymity.l_diversity(df, qis, [SENSITIVE]))
    return k, l_


def agreement(df: pd.DataFrame) -> tuple[str, list[str]]:
    """k and l from all three tools with coarse quasi-identifiers (k, l well above 1)."""
    coarse = df.assign(age_band=df["age"] // 10)
    got = {
        "statbarn": run_statbarn(coarse, COARSE_QIS),
        "pandas": run_pandas(coarse, COARSE_QIS),
        "pycanon": run_pycanon(coarse, COARSE_QIS),
    }
    line = f"agreement on {', '.join(COARSE_QIS)} ({len(df):,} rows): " + "; ".join(
        f"{tool} k={k} l={l_}" for tool, (k, l_) in got.items()
    )
    bad = [] if len(set(got.values())) == 1 else [f"tools disagree: {line}"]
    return line, bad


def _pycanon_child(df: pd.DataFrame, conn: Connection) -> None:
    conn.send(best_of(partial(run_pycanon, df), repeats=1))
    conn.close()


def pycanon_capped(df: pd.DataFrame, cap: float) -> tuple[float, int, int] | None:
    """One pycanon run in a forked child; None if it has not finished within ``cap``."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_pycanon_child, args=(df, child))
    proc.start()
    child.close()
    try:
        if parent.poll(cap):
            out: tuple[float, int, int] = parent.recv()
            return out
        return None
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pycanon-cap", type=float, default=300.0,
                    help="seconds allowed for one pycanon run on all rows")
    args = ap.parse_args(argv)

    df = make_data(args.rows)
    sub = df.iloc[: min(SUBSAMPLE, args.rows)].reset_index(drop=True)
    rows: list[tuple[str, int, float, int, int, str]] = []
    failures: list[str] = []

    t_sb, k_sb, l_sb = best_of(partial(run_statbarn, df))
    rows.append(("statbarn check_microdata", len(df), t_sb, k_sb, l_sb, "best of 3"))
    t_pd, k_pd, l_pd = best_of(partial(run_pandas, df))
    rows.append(("pandas groupby (size + nunique)", len(df), t_pd, k_pd, l_pd, "best of 3"))
    if (k_sb, l_sb) != (k_pd, l_pd):
        failures.append(f"statbarn (k={k_sb}, l={l_sb}) != pandas (k={k_pd}, l={l_pd})")
    if t_sb > 2 * t_pd:
        failures.append(f"statbarn {t_sb:.3f}s is not within 2x of pandas {t_pd:.3f}s")

    comparisons: list[tuple[int, float, float]] = []  # (size, statbarn, pycanon)
    sizes: list[tuple[pd.DataFrame, float | None]] = []
    if len(sub) < len(df):
        sizes.append((sub, None))
    sizes.append((df, args.pycanon_cap))
    for frame, cap in sizes:
        if len(frame) == len(df):
            t_s = t_sb
        else:
            t_s, k_s, l_s = best_of(partial(run_statbarn, frame))
            rows.append(("statbarn check_microdata", len(frame), t_s, k_s, l_s, "best of 3"))
        if cap is None:
            t_c, k_c, l_c = best_of(partial(run_pycanon, frame))
            note = "best of 3"
        else:
            got = pycanon_capped(frame, cap)
            if got is None:
                rows.append(("pycanon k + l", len(frame), float("nan"), -1, -1,
                             f"did not finish within {cap:.0f}s cap"))
                continue
            t_c, k_c, l_c = got
            note = "1 run (capped child)"
        rows.append(("pycanon k + l", len(frame), t_c, k_c, l_c, note))
        comparisons.append((len(frame), t_s, t_c))
        k_s2, l_s2 = run_statbarn(frame)
        if (k_s2, l_s2) != (k_c, l_c):
            failures.append(
                f"{len(frame)} rows: statbarn (k={k_s2}, l={l_s2}) != pycanon (k={k_c}, l={l_c})"
            )
        if t_c < 20 * t_s:
            failures.append(
                f"{len(frame)} rows: statbarn {t_s:.3f}s is not >= 20x faster than "
                f"pycanon {t_c:.3f}s"
            )

    print(f"\n{'tool':34} {'rows':>9} {'seconds':>9} {'k':>4} {'l':>4}  note")
    for name, n, t, k, l_, note in rows:
        print(f"{name:34} {n:>9,} {t:>9.3f} {k:>4} {l_:>4}  {note}")
    line, bad = agreement(df)
    failures.extend(bad)
    print(f"\n{line}")
    print(f"statbarn time / pandas groupby time ({len(df):,} rows): {t_sb / t_pd:.2f} "
          "(must be <= 2)")
    for n, t_s, t_c in comparisons:
        print(f"pycanon time / statbarn time ({n:,} rows): {t_c / t_s:.0f} (must be >= 20)")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: statbarn within 2x of pandas, >= 20x faster than pycanon, k and l agree.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
