"""Profile one submit-and-decide request end to end, in process, with cProfile.

    .venv/bin/python benchmarks/profile_airlock.py [--engine sqlite|postgresql] [-n 200]
                                                   [--sort cumulative] [--lines 60] [--out F]

The app is ``create_app()`` on a migrated database (a SQLite file, or a fresh schema
of the PostgreSQL at TRE_TEST_POSTGRES_URL / 127.0.0.1:5432/test), with development
tokens and the stored policy, driven through httpx's ASGI transport with the
benchmark's request (benchmarks/bench_airlock.py: two statbarn tables with their
sidecars).  The hop to the worker thread is made synchronous, so the profile holds
the whole request in one thread.  First the CPU and wall time per request without
the profiler, then the profile (``--out`` keeps it for pstats or snakeviz).
What it measures is the work of one request, not the server under load: run
bench_airlock.py for that.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from bench_airlock import TOKENS, drop_schema, make_tables, multipart, postgres_url  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("-n", type=int, default=200, help="requests measured (and profiled)")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--out", type=Path, help="write the profile here (pstats format)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-airlock-") as tmp:
        work = Path(tmp)
        schema = None
        if args.engine == "sqlite":
            url = f"sqlite:///{work / 'tre.db'}"
        else:
            url, schema = postgres_url()
        try:
            return run(args, work, url)
        finally:
            if schema:
                drop_schema(schema)


def run(args: argparse.Namespace, work: Path, url: str) -> int:
    os.environ.update({"TRE_DATA_DIR": str(work), "TRE_DATABASE_URL": url,
                       "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
                       "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING"})
    import anyio.to_thread

    from airlock.api.app import create_app
    from tre.db import upgrade

    async def in_this_thread(fn: Any, *fn_args: Any, **_kw: Any) -> Any:
        return fn(*fn_args)

    anyio.to_thread.run_sync = in_this_thread  # type: ignore[assignment]
    upgrade(url)
    app = create_app()
    body, ctype = multipart(make_tables(work))
    headers = {"Authorization": "token bench-alice-token", "Content-Type": ctype}
    profile = cProfile.Profile()

    async def requests() -> None:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=transport, base_url="http://airlock") as client:
            async def one() -> None:
                r = await client.post("/api/requests", content=body, headers=headers)
                if r.status_code != 201 or r.json()["state"] != "released":
                    raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:500]}")

            for _ in range(20):  # warm up: imports, caches, the ledger's first release
                await one()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.n):
                await one()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{args.engine}: {cpu / args.n * 1000:.1f} ms CPU, {wall / args.n * 1000:.1f} "
                  f"ms wall per request (client included), without the profiler")
            profile.enable()
            for _ in range(args.n):
                await one()
            profile.disable()

    asyncio.run(requests())
    if args.out:
        profile.dump_stats(args.out)
    stats = pstats.Stats(profile)
    stats.sort_stats(args.sort).print_stats(args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
