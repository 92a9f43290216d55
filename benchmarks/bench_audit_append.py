"""Benchmark: how long each request holds the lock that serialises every audited write.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_audit_append.py [--workers P]
        [--requests N] [--work-ms W] [--engines sqlite postgresql]

Each of P worker processes (as uvicorn's workers are) runs N units of work (after 5
to warm up), each one transaction shaped like an airlock request: an audit event, W ms
of work (time.sleep: waiting on a check, a read; it does not compete for the CPU), a
row written, a second event, the commit.  On a fresh
database per engine (SQLite in a temporary directory; PostgreSQL at
TRE_TEST_POSTGRES_URL or 127.0.0.1:5432/test, in a fresh schema).

Measured per request, from the database driver's own statements (the same listeners
measure any version of tre.audit, so the figure before and after a change is
comparable; run it with PYTHONPATH pointing at either tree):

* **head held**: from the ``SELECT ... FOR UPDATE`` of ``audit_head`` to the end of the
  commit, summed over the run and divided by the requests.  On PostgreSQL this is the time
  every other appending request waits for.  The code before the change held it once per
  request (measured here from the session's statements); the code after keeps the figure
  itself (``tre.audit.HOLDS``, the same span), where one sequencer run can serve several
  requests.
* **write lock held** (SQLite): from ``BEGIN IMMEDIATE`` to the end of the commit: SQLite
  has one writer at a time, so there the whole unit of work is serialised whatever the
  audit log does.

The serialised time s per request bounds throughput at 1/s whatever the number of
workers (Amdahl); the bound is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

_tls = threading.local()
WARMUP = 5  # requests per worker before measuring


def _install(engine: Any, held: list[float], writer: list[float],
             committing: list[float]) -> None:
    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:  # just before the driver's COMMIT
        _tls.commit = time.perf_counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            _tls.writer = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "audit_head" in statement and "FOR UPDATE" in statement.upper():
            _tls.head = getattr(_tls, "head", None) or time.perf_counter()

    # First among the after_commit listeners: the audit log's own (the checkpoint is
    # signed and written after the commit, the lock already released) must not count.
    @event.listens_for(Session, "after_commit", insert=True)
    def _committed(session: Session) -> None:
        now = time.perf_counter()
        head, _tls.head = getattr(_tls, "head", None), None
        if head is not None:
            held.append(now - head)
            committing.append(now - getattr(_tls, "commit", now))
        began, _tls.writer = getattr(_tls, "writer", None), None
        if began is not None:
            writer.append(now - began)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _worker(url: str, n: int, requests: int, work_ms: float, out: Any, start: Any) -> None:
    """One worker process (as uvicorn's are): its own engine, its own interpreter lock."""
    from tre import audit
    from tre.db import make_engine, session_factory, transaction

    engine = make_engine(url)
    held: list[float] = []
    writer: list[float] = []
    committing: list[float] = []
    _install(engine, held, writer, committing)
    db = session_factory(engine)
    latencies: list[float] = []
    for i in range(-WARMUP, requests):
        if i == 0:  # warmed up (imports, connections): every worker starts measuring at once
            start.wait()
            held.clear(), writer.clear(), committing.clear()
            holds = getattr(audit, "HOLDS", None)
            if holds is not None:
                holds.total = holds.committing = 0.0
                holds.count = 0
        started = time.perf_counter()
        with transaction(db) as s:
            rid = uuid.uuid4().hex
            audit.record(s, actor=f"user{n}", action="bench.create", object_type="request",
                         object_id=rid, project="p", details={"i": i})
            time.sleep(work_ms / 1000)
            s.execute(text("INSERT INTO bench_work (id, payload) VALUES (:i, :p)"),
                      {"i": rid, "p": "x" * 200})
            audit.record(s, actor=f"user{n}", action="bench.decide", object_type="request",
                         object_id=rid, project="p", details={"outcome": "approved"})
        if i >= 0:
            latencies.append(time.perf_counter() - started)
    engine.dispose()
    holds = getattr(audit, "HOLDS", None)  # tre.audit's own figure, where it keeps one
    if holds is not None:  # one sequencer run can serve several requests
        result = (holds.total, holds.count, getattr(holds, "committing", 0.0), [])
    else:  # before: one hold per request, from the session's own statements
        result = (sum(held), len(held), sum(committing), held)
    out.put({"head": result, "writer": writer, "latencies": latencies})


def run(url: str, workers: int, requests: int, work_ms: float) -> dict[str, Any]:
    import multiprocessing

    from tre import audit
    from tre.db import make_engine, session_factory, transaction, upgrade

    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_work (id VARCHAR(32) PRIMARY KEY, "
                          "payload TEXT NOT NULL)"))
    engine.dispose()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start = ctx.Barrier(workers + 1)
    procs = [ctx.Process(target=_worker, args=(url, n, requests, work_ms, out, start))
             for n in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    began = time.perf_counter()
    parts = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - began
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        verified = audit.verify(s, anchored=False)  # the log itself, not its deployment
    engine.dispose()
    total = workers * requests
    head_total = sum(part["head"][0] for part in parts)
    runs = sum(part["head"][1] for part in parts)
    commit_total = sum(part["head"][2] for part in parts)
    held = [h for part in parts for h in part["head"][3]]
    writer = [w for part in parts for w in part["writer"]]
    latencies = [x for part in parts for x in part["latencies"]]
    sqlite = url.startswith("sqlite")
    return {
        "requests": total, "wall": wall, "throughput": total / wall,
        "latency_p50": _percentile(latencies, 0.5), "latency_p99": _percentile(latencies, 0.99),
        "head_mean": head_total / total, "head_p99": _percentile(held, 0.99) if held else 0.0,
        "head_runs": runs, "commit_mean": commit_total / total,
        "writer_mean": statistics.fmean(writer) if writer else 0.0,
        "serial_mean": (statistics.fmean(writer) if writer else 0.0) if sqlite
        else head_total / total,
        "ok": bool(verified.ok) and int(verified.events) == 2 * (total + WARMUP * workers),
    }


def _postgres_url() -> tuple[str, Any, str]:
    base = os.environ.get("TRE_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", admin, schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--requests", type=int, default=50, help="per thread")
    parser.add_argument("--work-ms", type=float, default=5.0)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    import tre.audit

    print(f"tre.audit from {Path(tre.audit.__file__).resolve().parent.parent}; "
          f"{args.workers} processes x {args.requests} requests, {args.work_ms} ms of work each")
    failed = False
    for engine in args.engines:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["TRE_DATA_DIR"] = tmp  # the checkpoint key and file, for this run
            from tre.settings import reset_settings

            reset_settings()
            if engine == "sqlite":
                r = run(f"sqlite:///{tmp}/bench.db", args.workers, args.requests, args.work_ms)
            else:
                url, admin, schema = _postgres_url()
                try:
                    r = run(url, args.workers, args.requests, args.work_ms)
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
        bound = 1 / r["serial_mean"] if r["serial_mean"] else float("inf")
        print(f"{engine:<10} {r['requests']} requests in {r['wall']:.2f} s = "
              f"{r['throughput']:.0f} req/s; latency p50 {r['latency_p50'] * 1e3:.1f} ms "
              f"p99 {r['latency_p99'] * 1e3:.1f} ms")
        print(f"{'':<10} audit head held per request: {r['head_mean'] * 1e3:.2f} ms "
              f"({r['head_runs']} holds; of which in COMMIT {r['commit_mean'] * 1e3:.2f} ms"
              + (f"; p99 of a hold {r['head_p99'] * 1e3:.2f} ms)" if r["head_p99"] else ")")
              + (f"; SQLite write lock held: mean {r['writer_mean'] * 1e3:.2f} ms"
                 if engine == "sqlite" else ""))
        print(f"{'':<10} serialised time per request {r['serial_mean'] * 1e3:.2f} ms: "
              f"Amdahl's bound {bound:.0f} req/s at any number of workers; log verifies: "
              f"{r['ok']}")
        failed |= not r["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
