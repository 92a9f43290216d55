"""Benchmark: what intake costs for each hostile file class (tests/hostile.py), bombs included.

    .venv/bin/python benchmarks/bench_canonical.py [--repeat N]

For each class: the time of type detection with the hidden-content refusals
(``airlock.filetypes.detect``) and of the canonical copy plus the checks
(``CheckRunner.run``), the median of N runs (default 5), and the peak memory
allocated through Python's allocator (tracemalloc: Pillow's and pyarrow's own
buffers are not counted) in one run, with the outcome.  It also measures an
ordinary plot (a 1920 x 1440 RGBA PNG), the case researchers actually send, and a
PNG declaring 100,000 x 100,000 pixels (refused from its header: memory and time
stay flat).  In-process, single-threaded: it measures the work, not the server.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import statbarn as sb  # noqa: E402
from airlock.checks import CheckRefused, CheckRunner, Subject  # noqa: E402
from airlock.filetypes import Refused, detect  # noqa: E402
from tests import hostile  # noqa: E402


def plot_png() -> bytes:
    rng = np.random.default_rng(1)
    arr = np.full((1440, 1920, 4), 255, np.uint8)
    arr[::7, :, :3] = rng.integers(0, 255, (206, 1920, 3))
    out = io.BytesIO()
    Image.fromarray(arr, "RGBA").save(out, "PNG")
    return out.getvalue()


def once(folder: Path, name: str, data: bytes, profile: sb.Profile) -> tuple[str, float, float]:
    path = folder / name
    path.write_bytes(data)
    work = Path(tempfile.mkdtemp(dir=folder))
    t0 = time.perf_counter()
    try:
        kind = detect(path, name, max_parse_bytes=32 * 1024**2).kind
    except Refused as exc:
        return f"refused {getattr(exc, 'status', 415)}", time.perf_counter() - t0, 0.0
    t1 = time.perf_counter()
    try:
        res = CheckRunner(profile, [], 32 * 1024**2, work).run(Subject(path, name, kind))
        outcome = f"{res.verdict}" + (" (canonical)" if res.canonical else "")
    except CheckRefused as exc:
        outcome = f"refused {exc.status}"
    return outcome, t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    profile = sb.load_profile("default")
    cases = [(h.name, h.data) for h in hostile.all_hostile()]
    cases.append(("plot_1920x1440.png", plot_png()))
    print(f"{'file':<26} {'size':>9} {'outcome':<22} {'detect ms':>9} {'check ms':>9} "
          f"{'py MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in cases:
            runs = [once(folder, name, data, profile) for _ in range(args.repeat)]
            tracemalloc.start()
            once(folder, name, data, profile)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{name:<26} {len(data):>9,} {runs[0][0]:<22} "
                  f"{statistics.median(r[1] for r in runs) * 1000:>9.1f} "
                  f"{statistics.median(r[2] for r in runs) * 1000:>9.1f} {peak / 1024**2:>8.1f}")


if __name__ == "__main__":
    main()
