"""Benchmark: a new 50 x 20 count table checked against a ledger of 200 earlier releases.

Run with ``.venv/bin/python benchmarks/bench_differencing.py`` (``--quick``: the
``mixed`` baseline and the 1,000-release scenarios only; ``--records=N``: the
record-set ledger over N records, default 100,000).  Each scenario
builds a ledger of 200 tables (as the airlock would, from their JSON), then
times ``find_differencing`` for a new 50 (region) x 20 (age band) table: the
first ("cold") call includes building each entry's internal view, the next
ones ("warm", median of 5) reuse them.  Scenarios:

* ``mixed``: 50 same-variable releases of nested populations (25 smaller, 25
  larger, differences of 10 or more), 50 region x sex, 50 age x sex tables,
  50 tables of unrelated variables;
* ``nested-chain``: 200 same-variable releases of nested populations, all
  larger than the new one, plus small slices (the complement stage's worst case);
* ``leaky``: like ``mixed`` but every nested release differs by 1..9 somewhere;
* ``rebanded``: 200 releases of the same population with the age bands
  shifted by 1 to 4 years (200 interval derivations).

The same run then checks a new 50 x 20 table **with margins** against 1,000
earlier releases of one project (margins printed, as ``margins=True`` makes them):

* ``margins-1000``: the ``mixed`` ledger at 1,000 tables, margins printed, no
  record sets (bare tables: compared by their variables);
* ``records-1000``: 1,000 releases with their record sets over one dataset of
  ``RECORDS`` records (region x age band, region x sex, age band x sex,
  ethnicity x year; whole population, nested filters, random subsets), compared
  exactly (:mod:`statbarn.populations`);
* ``distinct-1000``: the same, but no two releases hold one record set (each
  whole-population release is replaced by a distinct superset of the new table's
  population): releases of one content are compared once, and this scenario shows
  the check without that help (reported, not a limit);

and reports the ledger memory per released 50 x 20 table with margins over 10^6
records: the record sets as stored (JSON in the ledger entry) and in memory once
compared (decoded, plus the per-level groups).

Exits 1 if the ``mixed`` scenario's cold check, or the ``margins-1000`` or
``records-1000`` cold check, takes 1 s or more.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# STATBARN_TREE: another checkout's statbarn (the peer), timed by this same script
sys.path.insert(0, os.environ.get("STATBARN_TREE", str(Path(__file__).resolve().parents[1])))

from statbarn.differencing import LedgerTable, find_differencing
from statbarn.exact_differencing import _shape
from statbarn.records import build as record_sets

ROWS, COLS, LEDGER, MIN_COUNT, LIMIT_S = 50, 20, 200, 10, 1.0
REGIONS = [f"region-{i:02d}" for i in range(ROWS)]


def starts(shift: int = 0) -> list[int]:
    """First year of each of the 20 age bands: 0, 5+shift, 10+shift, ..., 95+shift."""
    return [0, *range(5 + shift, 5 * COLS + shift, 5)]


def bands(shift: int = 0) -> list[str]:
    edges = starts(shift)
    return [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)] + [f"{edges[-1]}+"]


def entry(rid: str, counts: np.ndarray, rows: list[str], cols: list[str],
          row_var: str = "region", col_var: str = "age") -> LedgerTable:
    table = LedgerTable(rid, "cohort", None, "count", (row_var,), (col_var,),
                        tuple((r,) for r in rows), tuple((c,) for c in cols), counts)
    return LedgerTable.from_json(table.to_json())  # as loaded from the airlock's database


def mixed(rng: np.random.Generator, base: np.ndarray, leaky: bool) -> list[LedgerTable]:
    out = []
    for i in range(LEDGER):
        kind = i % 4
        if kind == 0:  # a subgroup: remove 10..30 from each cell (1..9 somewhere if leaky)
            delta = np.minimum(base, rng.integers(10, 30, base.shape))
            if leaky:
                delta[rng.integers(ROWS), rng.integers(COLS)] = rng.integers(1, 10)
            out.append(entry(f"sub-{i}", base - delta, REGIONS, bands()))
        elif kind == 1 and i % 8 == 1:  # a larger population
            out.append(entry(f"sup-{i}", base + rng.integers(10, 30, base.shape), REGIONS,
                             bands()))
        elif kind == 1:
            out.append(entry(f"sex-{i}", rng.integers(0, 500, (ROWS, 2)), REGIONS, ["F", "M"],
                             col_var="sex"))
        elif kind == 2:
            out.append(entry(f"agesex-{i}", rng.integers(0, 500, (COLS, 2)), bands(), ["F", "M"],
                             row_var="age", col_var="sex"))
        else:
            out.append(entry(f"other-{i}", rng.integers(0, 500, (10, 3)),
                             [f"e{k}" for k in range(10)], ["2020", "2021", "2022"],
                             row_var="ethnicity", col_var="year"))
    return out


def nested_chain(rng: np.random.Generator, base: np.ndarray) -> list[LedgerTable]:
    out = [entry(f"sup-{i}", base + 10 * (i + 1), REGIONS, bands()) for i in range(LEDGER // 2)]
    out += [entry(f"slice-{i}", rng.integers(0, 3, base.shape), REGIONS, bands())
            for i in range(LEDGER // 2)]
    return out


def rebanded(rng: np.random.Generator, base: np.ndarray) -> list[LedgerTable]:
    years = rng.integers(20, 60, (ROWS, 5 * COLS + 10))  # counts by single year of age
    out = []
    for i in range(LEDGER):
        shift = 1 + i % 4
        counts = np.add.reduceat(years, starts(shift), axis=1)
        out.append(entry(f"reband-{i}", counts, REGIONS, bands(shift)))
    base[:] = np.add.reduceat(years, starts(), axis=1)
    return out


RECORDS, BIG = 100_000, 1_000_000


def with_margins(t: LedgerTable) -> LedgerTable:
    d = t.to_json()
    d.update(row_totals=[True] * len(d["row_labels"]), col_totals=[True] * len(d["col_labels"]),
             grand_total=True)
    return LedgerTable.from_json(d)


def microdata(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"region": rng.integers(0, ROWS, n), "age": rng.integers(0, COLS, n),
            "sex": rng.integers(0, 2, n), "ethnicity": rng.integers(0, 10, n),
            "year": rng.integers(0, 3, n)}


def sets_table(rid: str, people: dict[str, np.ndarray], ids: np.ndarray, row: str, col: str,
               labels: dict[str, list[str]]) -> LedgerTable:
    nr, nc = len(labels[row]), len(labels[col])
    cells = people[row][ids] * nc + people[col][ids]
    counts = np.bincount(cells, minlength=nr * nc).reshape(nr, nc)
    t = LedgerTable(rid, "cohort", None, "count", (row,), (col,),
                    tuple((x,) for x in labels[row]), tuple((x,) for x in labels[col]), counts,
                    row_totals=(True,) * nr, col_totals=(True,) * nc, grand_total=True,
                    records=record_sets(ids, cells, nr * nc).to_json())
    return LedgerTable.from_json(t.to_json())  # as loaded from the airlock's database


def records_ledger(rng: np.random.Generator, n: int, size: int, distinct: bool = False
                   ) -> tuple[LedgerTable, list[LedgerTable]]:
    """``distinct``: no two releases hold one record set (the whole-population releases
    become the new table's population plus a random half of the rest, each its own), so
    releases of one content, compared once, do not make the check cheaper."""
    people = microdata(rng, n)
    labels = {"region": REGIONS, "age": bands(), "sex": ["F", "M"],
              "ethnicity": [f"e{k}" for k in range(10)], "year": ["2020", "2021", "2022"]}
    everyone = np.arange(n)
    pairs = [("region", "age"), ("region", "sex"), ("age", "sex"), ("ethnicity", "year")]
    out = []
    for i in range(size):
        row, col = pairs[i % 4]
        kind = (i // 4) % 3
        if kind == 0 and distinct:
            rest = np.flatnonzero(people["year"] >= 2)
            extra = rest[rng.random(len(rest)) < 0.5]
            ids = np.union1d(np.flatnonzero(people["year"] < 2), extra)
            out.append(sets_table(f"rel-{i}", people, ids, row, col, labels))
            continue
        ids = everyone if kind == 0 else np.flatnonzero(
            people["age"] >= 1 + i % 5) if kind == 1 else np.sort(
            rng.choice(n, n // 2, replace=False))
        out.append(sets_table(f"rel-{i}", people, ids, row, col, labels))
    new = sets_table("new", people, np.flatnonzero(people["year"] < 2), "region", "age", labels)
    return new, out


CPU: list[str] = []  # CPU seconds of each scenario (the machine is shared: wall time is not)


def timed(new: LedgerTable, ledger: list[LedgerTable]) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    findings = find_differencing(new, ledger, MIN_COUNT)
    cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu
    warm, warm_cpu = [], []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        find_differencing(new, ledger, MIN_COUNT)
        warm.append(time.perf_counter() - start)
        warm_cpu.append(time.process_time() - cpu)
    CPU.append(f"cold {cold_cpu:.3f} s, warm {statistics.median(warm_cpu):.3f} s CPU")
    return cold, statistics.median(warm), len(findings)


def memory_per_table(rng: np.random.Generator) -> tuple[int, int]:
    people = microdata(rng, BIG)
    labels = {"region": REGIONS, "age": bands()}
    t = sets_table("big", people, np.arange(BIG), "region", "age", labels)
    stored = len(json.dumps(t.to_json()))
    shape = _shape(t)
    assert shape is not None
    held = shape.records.nbytes + sum(a.nbytes for d in (shape.gid, shape.size, shape.known)
                                      for a in d.values()) + shape.coords.nbytes + stored
    return stored, held


def main() -> int:
    rng = np.random.default_rng(0)
    scenarios: dict[str, Callable[[np.ndarray], list[LedgerTable]]] = {
        "mixed": lambda b: mixed(rng, b, leaky=False),
        "nested-chain": lambda b: nested_chain(rng, b),
        "leaky": lambda b: mixed(rng, b, leaky=True),
        "rebanded": lambda b: rebanded(rng, b),
    }
    if "--quick" in sys.argv:  # the baseline scenario and the 1,000-release ones only
        scenarios = {"mixed": scenarios["mixed"]}
    records = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--records=")),
                   RECORDS)
    print(f"{'scenario':>13} {'ledger':>6} {'cold s':>7} {'warm s':>7} {'findings':>8}")
    mixed_cold = 0.0
    for name, build in scenarios.items():
        base = rng.integers(40, 400, (ROWS, COLS))
        ledger = build(base)
        new = entry("new", base, REGIONS, bands())
        start = time.perf_counter()
        findings = find_differencing(new, ledger, MIN_COUNT)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(5):
            start = time.perf_counter()
            find_differencing(new, ledger, MIN_COUNT)
            warm.append(time.perf_counter() - start)
        mixed_cold = cold if name == "mixed" else mixed_cold
        print(f"{name:>13} {len(ledger):>6} {cold:>7.3f} {statistics.median(warm):>7.3f} "
              f"{len(findings):>8}")
    print(f"mixed, cold: {mixed_cold:.3f} s (limit {LIMIT_S} s)")
    base = rng.integers(40, 400, (ROWS, COLS))
    global LEDGER
    LEDGER = 1000
    big_ledger = [with_margins(t) for t in mixed(rng, base, leaky=False)]
    m_cold, m_warm, m_found = timed(with_margins(entry("new", base, REGIONS, bands())),
                                    big_ledger)
    print(f"{'margins-1000':>13} {len(big_ledger):>6} {m_cold:>7.3f} {m_warm:>7.3f} "
          f"{m_found:>8}   ({CPU[-1]})")
    new, ledger = records_ledger(rng, records, 1000)
    r_cold, r_warm, r_found = timed(new, ledger)
    print(f"{'records-1000':>13} {len(ledger):>6} {r_cold:>7.3f} {r_warm:>7.3f} "
          f"{r_found:>8}   ({records} records; {CPU[-1]})")
    new, ledger = records_ledger(rng, records, 1000, distinct=True)
    d_cold, d_warm, d_found = timed(new, ledger)
    print(f"{'distinct-1000':>13} {len(ledger):>6} {d_cold:>7.3f} {d_warm:>7.3f} "
          f"{d_found:>8}   ({records} records, no two releases alike; {CPU[-1]})")
    stored, held = memory_per_table(rng)
    print(f"ledger memory per 50 x 20 table with margins and record sets over {BIG} records: "
          f"{stored / 2**20:.2f} MiB stored, {held / 2**20:.2f} MiB held once compared")
    ok = max(mixed_cold, m_cold, r_cold) < LIMIT_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
