"""Benchmark: the governance page's time to first byte (issue 14, finding 8).

    .venv/bin/python benchmarks/bench_governance_page.py [--runs N]

The governance lead (grace, of the demo policy) fetches ``/governance`` ``--runs``
times (after 3 warm-ups) from an in-process airlock on SQLite, through the ASGI
interface.  Time to first byte is measured inside the server: from the request
entering the application to its first body message leaving it (wall time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_review_page import pct  # noqa: E402


class FirstByte:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.ttfb: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, seen = time.perf_counter(), False

        async def timed_send(message: Any) -> None:
            nonlocal seen
            if message["type"] == "http.response.body" and not seen:
                seen = True
                self.ttfb.append((time.perf_counter() - start) * 1000)
            await send(message)

        await self.app(scope, receive, timed_send)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from tests.harness.airlock import airlock_app
    from tests.harness.pages import Pages, TestClient
    from tre.db import upgrade

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'tre.db'}"
        upgrade(url)
        with airlock_app(url, folder / "data") as h, TestClient(h.app):
            timed = FirstByte(h.app)
            grace = Pages(timed, "grace")
            for _ in range(3):
                assert grace.get("/governance").status_code == 200
            timed.ttfb.clear()
            size = 0
            for _ in range(args.runs):
                r = grace.get("/governance")
                assert r.status_code == 200
                size = len(r.text)
            t = timed.ttfb
            print(f"governance page ({size / 1024:.0f} KiB), {args.runs} runs: TTFB p50 "
                  f"{statistics.median(t):.1f} ms, p95 {pct(t, 95):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
