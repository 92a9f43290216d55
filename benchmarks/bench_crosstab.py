"""Benchmark: sb.crosstab (mean, with evidence and every check) against pandas and ACRO.

    .venv/bin/python benchmarks/bench_crosstab.py [--rows N] [--repeats R]

Data: N records (default 10^7), two string keys of object dtype with 50 and 20
levels, one lognormal float value; generated with a fixed seed.

Each tool runs in its own fresh subprocess, which imports what it needs,
generates the data, collects garbage and reads its resident set size (the
baseline: interpreter, libraries and data).  It then resets the kernel's
peak-RSS mark (``/proc/self/clear_refs``; where that is not allowed the peak
of the data generation is the baseline) and runs the tool; "peak MB" is the
highest RSS during the runs minus the baseline, i.e. the memory the tool
itself needed on top of the data.  Time is ``time.perf_counter``, best of R
(default 3) for statbarn and pandas, one run for ACRO.

1. statbarn: ``sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean")``;
2. pandas: ``g = df.groupby(["a", "b"], sort=True)["v"]``,
   ``g.agg(["count", "sum", "max"])`` plus the two largest values per cell,
   taken two ways -- ``g.nlargest(2)`` and
   ``df.sort_values("v").groupby(["a", "b"]).tail(2)`` -- of which the faster is
   compared (the table says which);
3. ACRO 1.0.2: ``acro.crosstab(df.a, df.b, values=df.v, aggfunc="mean")``
   (``suppress=False``).

Each child also reports the sum of its cell means, and the three must agree.
Exits non-zero unless statbarn takes at most 1.5x the pandas time, is at least
10x faster than ACRO and needs less peak memory than ACRO.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
PANDAS_LIMIT = 1.5
ACRO_FACTOR = 10.0


def make_data(rows: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a_levels = np.array([f"area-{i:02d}" for i in range(50)], dtype=object)
    b_levels = np.array([f"group-{i:02d}" for i in range(20)], dtype=object)
    return pd.DataFrame({
        "a": a_levels[rng.integers(0, 50, rows)],
        "b": b_levels[rng.integers(0, 20, rows)],
        "v": rng.lognormal(3.0, 1.0, rows),
    })


# ---- memory (Linux /proc) -----------------------------------------------------------------------
def _status_kb(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        return True
    except OSError:
        return False


# ---- the tools ----------------------------------------------------------------------------------
def run_statbarn(df: pd.DataFrame) -> float:
    import statbarn as sb

    out = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean")
    assert out.evidence.top is not None and len(out.checks) == 3
    return float(np.nansum(out.table.to_numpy()))


def run_pandas_nlargest(df: pd.DataFrame) -> float:
    g = df.groupby(["a", "b"], sort=True)["v"]
    stats = g.agg(["count", "sum", "max"])
    top2 = g.nlargest(2)
    second = top2.groupby(level=[0, 1], sort=True).min()
    assert len(second) == len(stats)
    return float((stats["sum"] / stats["count"]).sum())


def run_pandas_sort_tail(df: pd.DataFrame) -> float:
    g = df.groupby(["a", "b"], sort=True)["v"]
    stats = g.agg(["count", "sum", "max"])
    top2 = df.sort_values("v").groupby(["a", "b"], sort=True)["v"].tail(2)
    second = top2.groupby([df["a"], df["b"]], sort=True).min()
    assert len(second) == len(stats)
    return float((stats["sum"] / stats["count"]).sum())


def run_acro(df: pd.DataFrame, session: Any) -> float:
    table = session.crosstab(df.a, df.b, values=df.v, aggfunc="mean")
    return float(np.nansum(table.to_numpy()))


def child(tool: str, rows: int, repeats: int) -> dict[str, Any]:
    session = None
    variants: dict[str, Callable[[pd.DataFrame], float]]
    if tool == "statbarn":
        sys.path.insert(0, str(ROOT))
        import statbarn  # noqa: F401  (imports are part of the baseline)

        variants = {"statbarn": run_statbarn}
    elif tool == "pandas":
        variants = {"g.nlargest(2)": run_pandas_nlargest,
                    "sort_values + tail(2)": run_pandas_sort_tail}
    elif tool == "acro":
        import logging

        from acro import ACRO

        session = ACRO(suppress=False)
        for name in ("acro", "acro:records", "acro:summary"):
            logging.getLogger(name).setLevel(logging.WARNING)
        variants = {"acro": lambda d: run_acro(d, session)}
    else:
        raise SystemExit(f"unknown tool {tool}")
    import warnings

    warnings.simplefilter("ignore", FutureWarning)  # ACRO passes np.sum/np.max to pandas
    df = make_data(rows)
    gc.collect()
    baseline_kb = _status_kb("VmRSS")
    results: list[dict[str, Any]] = []
    for name, fn in variants.items():
        gc.collect()
        reset = _reset_peak()
        start_kb = _status_kb("VmRSS") if reset else _status_kb("VmHWM")
        times: list[float] = []
        check = float("nan")
        for _ in range(repeats):
            t0 = time.perf_counter()
            check = fn(df)
            times.append(time.perf_counter() - t0)
            gc.collect()
        peak_kb = _status_kb("VmHWM")
        results.append({"name": name, "times": times, "best": min(times),
                        "peak_mb": max(peak_kb - start_kb, 0) / 1024, "check": check,
                        "peak_reset": reset})
    return {"tool": tool, "rows": rows, "baseline_mb": baseline_kb / 1024, "variants": results}


def spawn(tool: str, rows: int, repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool, "--rows", str(rows),
           "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise SystemExit(f"{tool} child failed:\n{proc.stderr[-4000:]}")
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    out: dict[str, Any] = json.loads(last)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs for statbarn and pandas")
    ap.add_argument("--acro-repeats", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.repeats)))
        return 0

    sbr = spawn("statbarn", args.rows, args.repeats)
    pdr = spawn("pandas", args.rows, args.repeats)
    acr = spawn("acro", args.rows, args.acro_repeats)
    sb_v = sbr["variants"][0]
    pd_v = min(pdr["variants"], key=lambda v: v["best"])
    ac_v = acr["variants"][0]

    print(f"\n{args.rows:,} rows, keys of 50 x 20 levels (object dtype), one float value\n")
    print(f"{'tool':54} {'seconds':>9} {'runs':>5} {'peak MB':>9} {'baseline MB':>12}")
    lines = [("statbarn sb.crosstab (mean, evidence, checks)", sb_v, sbr)]
    lines += [(f"pandas groupby: count/sum/max + {v['name']}", v, pdr) for v in pdr["variants"]]
    lines.append(("ACRO acro.crosstab (mean)", ac_v, acr))
    for label, v, r in lines:
        print(f"{label:54} {v['best']:>9.3f} {len(v['times']):>5} {v['peak_mb']:>9.0f} "
              f"{r['baseline_mb']:>12.0f}")
    if not all(v["peak_reset"] for _, v, _ in lines):
        print("(peak RSS could not be reset: the data generation peak is the baseline)")

    t_sb, t_pd, t_ac = sb_v["best"], pd_v["best"], ac_v["best"]
    print(f"\npandas way compared: {pd_v['name']} (the faster of the two)")
    print(f"statbarn time / pandas time: {t_sb / t_pd:.2f} (must be <= {PANDAS_LIMIT})")
    print(f"ACRO time / statbarn time:   {t_ac / t_sb:.1f} (must be >= {ACRO_FACTOR:.0f})")
    print(f"statbarn peak / ACRO peak:   {sb_v['peak_mb'] / max(ac_v['peak_mb'], 1e-9):.2f} "
          f"(must be < 1); statbarn / pandas peak: "
          f"{sb_v['peak_mb'] / max(pd_v['peak_mb'], 1e-9):.2f}")

    failures: list[str] = []
    checks = {"statbarn": sb_v["check"], "pandas": pd_v["check"], "acro": ac_v["check"]}
    if not np.allclose(list(checks.values()), sb_v["check"], rtol=1e-9):
        failures.append(f"the tools' tables differ (sum of cell means): {checks}")
    if t_sb > PANDAS_LIMIT * t_pd:
        failures.append(f"statbarn {t_sb:.3f}s is not within {PANDAS_LIMIT}x of pandas "
                        f"{t_pd:.3f}s")
    if t_ac < ACRO_FACTOR * t_sb:
        failures.append(f"statbarn {t_sb:.3f}s is not >= {ACRO_FACTOR:.0f}x faster than ACRO "
                        f"{t_ac:.3f}s")
    if not sb_v["peak_mb"] < ac_v["peak_mb"]:
        failures.append(f"statbarn peak {sb_v['peak_mb']:.0f} MB is not below ACRO's "
                        f"{ac_v['peak_mb']:.0f} MB")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\nOK: statbarn within {PANDAS_LIMIT}x of pandas, >= {ACRO_FACTOR:.0f}x faster than "
          "ACRO, and below ACRO's peak memory; all three tables agree.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
