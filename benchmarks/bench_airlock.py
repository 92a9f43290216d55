"""Benchmark: the airlock's submit-and-decide latency under load, and a 100 MB upload's memory.

    .venv/bin/python benchmarks/bench_airlock.py [--requests N] [--clients C] [--engines ...]
        [--workers W] [--no-records] [--peer /tmp/peer-main --peer /tmp/peer-old] [--no-saturate]

For each engine (SQLite, and PostgreSQL at TRE_TEST_POSTGRES_URL or
127.0.0.1:5432/test, in a fresh schema) a real ``tre airlock serve`` process is
started on loopback with static development tokens.  C concurrent clients (default
20, asyncio + httpx in this process) then each submit requests until N (default
400, after 40 warm-up requests) have completed: every request holds two tables
made with statbarn (600 and 341 cells, with their evidence sidecars), which the
server checks with the project's profile, against the project's disclosure
ledger, decides automatically (approved) and releases, in one transaction with
its audit events.  Latency is from sending the request to receiving the decision.
Every request sends the same two tables: their files are stored once (later copies
are still written, fsynced and hashed, then found in the store), and the ledger
holds the two tables of the first release (a table released again adds nothing).

Load models (each printed with its figures):

* paced (the default, ``--interval 1``): each client sends a request, waits for the
  decision, and starts its next one ``interval`` seconds after the previous one
  started (at once when that time has passed), so C clients offer about C/interval
  requests per second: C researchers submitting concurrently.  The pass/fail
  criterion is judged on this run.
* back to back (``--interval 0``, or the extra saturation run of ``--saturate``):
  a closed loop in which every client sends its next request as soon as it has its
  answer.  Its latency is C / throughput (Little's law), so it shows the server's
  capacity; it is judged only when it is the run asked for (``--interval 0``).

The server's CPU time (all its processes, from /proc) is reported per request, and
so is the load generator's own, which shares the machine.  So is the time per request
the server held a lock that serialises requests (the audit log's head, the project's
ledger lock; each worker writes its totals at shutdown), with Amdahl's bound from it.
``--peer PATH`` runs another checkout (the old code) first with the same load, in the
same run, and a summary table puts them side by side; ``--no-records`` sends sidecars
without record sets (the tables are then compared with the ledger by their variables).

Then, on a fresh server, one 100 MB file is uploaded (streamed from disk by the
client) and the server's resident set size is read from /proc before and at its
peak (VmHWM, reset first through /proc/<pid>/clear_refs): the growth must not
scale with the file (the limit checked is 64 MB).

Exits non-zero if p50 >= 100 ms or p99 >= 500 ms on any engine (in the judged run), or
memory grows by 64 MB or more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import statbarn as sb  # noqa: E402

P50_LIMIT, P99_LIMIT, RSS_LIMIT_MB = 0.100, 0.500, 64
TOKENS = {"bench-alice-token": "alice"}
POSTGRES = os.environ.get("TRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_tables(folder: Path, records: bool = True) -> list[tuple[str, bytes, str, bytes]]:
    """The two tables and their sidecars.  ``records``: the sidecars hold the record sets
    of the 200,000 rows (statbarn takes them from the frame's whole-number index); without,
    the index is text and the tables are compared with the ledger by their variables."""
    rng = np.random.default_rng(1)
    n = 200_000
    df = pd.DataFrame({
        "area": rng.choice([f"area-{i:02d}" for i in range(30)], n),
        "group": rng.choice([f"group-{i:02d}" for i in range(20)], n),
        "band": rng.choice([f"band-{i}" for i in range(10)], n),
        "cost": rng.gamma(2.0, 100.0, n),
    })
    if not records:
        df.index = pd.Index([f"r{i}" for i in range(n)])
    a = sb.crosstab(df.area, df.group)  # 30 x 20 = 600 cells
    b = sb.crosstab(df.area, df.band, values=df.cost, aggfunc="mean",
                    margins=True)  # (30 + 1) x (10 + 1) = 341 cells, margins included
    out = []
    for name, table in (("counts.csv", a), ("mean_cost.csv", b)):
        assert table.verdict == "pass", (name, table.flags[:3])
        side = table.save(folder / name)
        out.append((name, (folder / name).read_bytes(), side.name, side.read_bytes()))
    return out


def multipart(tables: list[tuple[str, bytes, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = []

    def field(name: str, value: bytes, filename: str | None = None) -> None:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value
                      + b"\r\n")

    field("project", b"demo-project")
    field("context", b"Benchmark tables: counts by area and group, mean cost by area and band.")
    for name, data, side_name, side in tables:
        field("file", data, name)
        field("sidecar", side, side_name)
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, db_url: str, data: Path, workers: int = 1, root: Path = ROOT,
                 **env: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.data = data
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRE_")}
        self.env.update({
            "PYTHONPATH": str(root), "TRE_DATA_DIR": str(data), "TRE_DATABASE_URL": db_url,
            "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
            "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING", **env})
        self.proc: subprocess.Popen[bytes] | None = None
        self.root = root

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.data.mkdir(parents=True, exist_ok=True)
        log = open(self.data / "serve.log", "ab")
        if (self.root / "tre" / "cli_db.py").exists():  # only `tre db upgrade` migrates
            subprocess.run([sys.executable, "-m", "tre.cli", "db", "upgrade"], env=self.env,
                           stdout=log, stderr=subprocess.STDOUT, cwd=self.data, check=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tre.cli", "airlock", "serve", "--port", str(self.port),
             "--workers", str(self.workers)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.data)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the airlock did not start: " + (self.data / "serve.log").read_text())

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def lock_holds(self) -> dict[str, float] | None:
        """The seconds the server's processes held each serialising lock (the lines each
        worker writes at shutdown, airlock.api.app.lock_report), summed; None: the code
        run does not report them."""
        found: dict[str, float] = {}
        pattern = re.compile(r"(audit-head|ledger) (\d+) holds ([\d.]+) ms "
                             r"\(longest [\d.]+ ms, committing ([\d.]+) ms\)")
        for line in (self.data / "serve.log").read_text(errors="replace").splitlines():
            if line.startswith("airlock locks"):
                for name, _, ms, committing in pattern.findall(line):
                    found[name] = found.get(name, 0.0) + float(ms) / 1000
                    key = f"{name} in COMMIT"
                    found[key] = found.get(key, 0.0) + float(committing) / 1000
        return found or None

    def pids(self) -> list[int]:
        """The server process and its descendants (uvicorn's workers)."""
        assert self.proc is not None
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo.extend(int(c) for c in task.read_text().split())
                except OSError:
                    continue
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def status_kb(self, field: str) -> int:
        assert self.proc is not None
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) if match else 0

    def reset_peak(self) -> bool:
        assert self.proc is not None
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False


async def load(url: str, body: bytes, ctype: str, clients: int, total: int, warmup: int,
               interval: float = 0.0) -> list[float]:
    """``clients`` concurrent clients; each sends a request, waits for the decision, and
    (with ``interval`` > 0) sends its next one ``interval`` seconds after the previous one
    started (or at once if that time has passed).  ``interval`` 0: back to back."""
    headers = {"Authorization": "token bench-alice-token", "Content-Type": ctype}
    latencies: list[float] = []
    counter = {"started": 0}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    rng = np.random.default_rng(3)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def worker() -> None:
            if interval:
                await asyncio.sleep(float(rng.uniform(0, interval)))  # spread the clients
            nxt = time.perf_counter()
            while counter["started"] < warmup + total:
                if interval:
                    await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
                    nxt += interval
                n = counter["started"]
                counter["started"] += 1
                t0 = time.perf_counter()
                r = await client.post("/api/requests", content=body, headers=headers)
                dt = time.perf_counter() - t0
                if r.status_code != 201 or r.json()["state"] != "released":
                    raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:500]}")
                if n >= warmup:
                    latencies.append(dt)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def postgres_url() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (every process, every CPU) so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def load_model(clients: int, interval: float) -> str:
    if interval:
        return (f"paced: {clients} clients, each one request every {interval:g} s "
                f"(~{clients / interval:g} req/s offered)")
    return f"back to back: {clients} clients, closed loop (saturation)"


def bench_latency(engine: str, work: Path, body: bytes, ctype: str, args: argparse.Namespace,
                  interval: float, root: Path = ROOT) -> dict[str, Any]:
    schema = None
    data = work / f"{engine}-{uuid.uuid4().hex[:6]}"
    if engine == "sqlite":
        url = f"sqlite:///{data / 'tre.db'}"
    else:
        url, schema = postgres_url()
    warmup = 40
    try:
        with Server(url, data, args.workers, root=root) as server:
            cpu0, own0, all0 = server.cpu_seconds(), time.process_time(), machine_busy_seconds()
            t0 = time.perf_counter()
            lat = asyncio.run(load(server.url, body, ctype, args.clients, args.requests, warmup,
                                   interval))
            wall = time.perf_counter() - t0
            cpu, own = server.cpu_seconds() - cpu0, time.process_time() - own0
            rest = machine_busy_seconds() - all0 - cpu - own
        holds = server.lock_holds()  # written at shutdown (the server has exited here)
    finally:
        if schema:
            drop_schema(schema)
    p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
    done = len(lat) + warmup
    print(f"{engine:<11} [{root.name}] {load_model(args.clients, interval)}, "
          f"{args.workers} worker(s)\n"
          f"{'':<11} {len(lat)} requests: p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
          f"mean {statistics.mean(lat) * 1000:6.1f} ms  {done / wall:5.1f} req/s  "
          f"server CPU {cpu / done * 1000:5.1f} ms/request\n"
          f"{'':<11} CPU besides the server: load generator {own / done * 1000:4.1f} ms/request, "
          f"other processes ({'the database and ' if engine != 'sqlite' else ''}anything else "
          f"running) {max(rest, 0.0) / wall * 100:3.0f}% of one CPU")
    if not interval:
        # Closed loop: each client always has a request in the server, so p50 is about
        # clients x CPU per request / the CPUs the server can use: one per worker, as a
        # worker's Python runs on one CPU at a time (a little less, as C code and the
        # kernel run beside it).
        usable = min(args.workers, os.cpu_count() or 1)
        bound = args.clients * cpu / done / usable
        print(f"{'':<11} CPU-bound p50: {args.clients} clients x {cpu / done * 1000:.1f} ms "
              f"/ {usable} CPU(s) = {bound * 1000:.0f} ms")
    serial = None
    if holds is not None:
        # Amdahl: the time per request spent holding a lock every request of the project
        # (or, for the audit head, every request) waits for cannot run in parallel, so
        # throughput is at most 1 / serial however many workers, and N workers speed the
        # server up at most 1 / (f + (1 - f) / N), f = serial / CPU per request.
        serial = sum(v for k, v in holds.items() if "COMMIT" not in k) / done
        f = min(1.0, serial / (cpu / done)) if cpu else 1.0
        parts = ", ".join(f"{k} {v / done * 1000:.2f}" for k, v in sorted(holds.items()))
        print(f"{'':<11} serialised {serial * 1000:.2f} ms/request ({parts}): Amdahl bound "
              f"{1 / serial if serial else float('inf'):,.0f} req/s; 4 workers at most "
              f"x{1 / (f + (1 - f) / 4):.2f}, 16 at most x{1 / (f + (1 - f) / 16):.2f}")
    return {"engine": engine, "code": root.name, "p50": p50, "p99": p99,
            "rps": done / wall, "cpu": cpu / done, "serial": serial, "wall": wall}


def bench_memory(work: Path, size_mb: int) -> float:
    big = work / "big.csv"
    with open(big, "wb") as fh:
        fh.write(b"region,n\n")
        row = b"".join(f"region-{i:06d},{i % 97 + 10}\n".encode() for i in range(10_000))
        while fh.tell() < size_mb * 1_000_000:
            fh.write(row)
    url = f"sqlite:///{work / 'memory' / 'tre.db'}"
    with Server(url, work / "memory", TRE_AIRLOCK_MAX_FILE_BYTES=str(2 * size_mb * 10**6),
                TRE_AIRLOCK_MAX_REQUEST_BYTES=str(2 * size_mb * 10**6)) as server:
        headers = {"Authorization": "token bench-alice-token"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=600) as client:
            small = client.post("/api/requests", data={"project": "demo-project",
                                                       "context": "warm-up"},
                                files=[("file", ("warm.csv", b"region,n\nNorth,25\nSouth,30\n"))])
            assert small.status_code == 201, small.text
            before = server.status_kb("VmRSS")
            exact = server.reset_peak()
            t0 = time.perf_counter()
            with open(big, "rb") as fh:
                r = client.post("/api/requests", data={"project": "demo-project",
                                                       "context": "a big table"},
                                files=[("file", ("big.csv", fh, "text/csv"))])
            dt = time.perf_counter() - t0
            assert r.status_code == 201, r.text
            peak = server.status_kb("VmHWM") if exact else server.status_kb("VmRSS")
    growth = (peak - before) / 1024
    size = big.stat().st_size / 1e6
    print(f"upload      {size:.0f} MB in {dt:.1f} s ({size / dt:.0f} MB/s), state "
          f"{r.json()['state']}: server RSS {before / 1024:.0f} MB before, peak "
          f"{peak / 1024:.0f} MB ({'VmHWM' if exact else 'VmRSS after'}): growth {growth:.1f} MB")
    return growth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--engines", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--upload-mb", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between one client's requests (0: back to back)")
    parser.add_argument("--saturate", action=argparse.BooleanOptionalAction, default=True,
                        help="also run back to back (saturation), reported only")
    parser.add_argument("--records", action=argparse.BooleanOptionalAction, default=True,
                        help="sidecars with record sets (--no-records: without)")
    parser.add_argument("--peer", type=Path, action="append", default=[],
                        help="another checkout (the old code) to run in the same run, before "
                             "this one, with the same load (repeatable; reported, not judged)")
    args = parser.parse_args()
    failed = False
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-airlock-") as tmp:
        work = Path(tmp)
        tables = make_tables(work, records=args.records)
        body, ctype = multipart(tables)
        cells = [len(t[1].splitlines()) for t in tables]
        print(f"tables: {', '.join(t[0] for t in tables)} ({cells} lines), body {len(body)} "
              f"bytes, {'with' if args.records else 'without'} record sets")
        print(f"judged: {load_model(args.clients, args.interval)}; "
              f"p50 < {P50_LIMIT * 1000:.0f} ms and p99 < {P99_LIMIT * 1000:.0f} ms "
              f"({os.cpu_count()} CPUs)")
        for engine in args.engines:
            for peer in args.peer:
                rows.append(bench_latency(engine, work, body, ctype, args, args.interval,
                                          root=peer.resolve()))
            row = bench_latency(engine, work, body, ctype, args, args.interval)
            rows.append(row)
            ok = row["p50"] < P50_LIMIT and row["p99"] < P99_LIMIT
            model = "paced" if args.interval else "back to back"
            print(f"{'PASS' if ok else 'FAIL'} {engine} ({model}): p50 must be < "
                  f"{P50_LIMIT * 1000:.0f} ms and p99 < {P99_LIMIT * 1000:.0f} ms")
            failed = failed or not ok
            if args.saturate and args.interval:
                bench_latency(engine, work, body, ctype, args, 0.0)
                print(f"(not judged) {engine} back to back: the server's capacity")
        print(f"\nsummary ({load_model(args.clients, args.interval)}, {args.workers} worker(s), "
              f"{'with' if args.records else 'without'} record sets)")
        print(f"{'engine':<11} {'code':<14} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>6} "
              f"{'CPU ms/req':>10} {'serialised ms/req':>17}")
        for r in rows:
            serial = "n/a" if r["serial"] is None else f"{r['serial'] * 1000:.2f}"
            print(f"{r['engine']:<11} {r['code']:<14} {r['p50'] * 1000:8.1f} "
                  f"{r['p99'] * 1000:8.1f} {r['rps']:6.1f} {r['cpu'] * 1000:10.1f} {serial:>17}")
        if args.upload_mb:
            growth = bench_memory(work, args.upload_mb)
            if growth >= RSS_LIMIT_MB:
                print(f"FAIL: memory grew by {growth:.0f} MB for a {args.upload_mb} MB upload")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
