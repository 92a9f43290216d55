"""Benchmark: what each parser bomb costs a real airlock server (issue 11).

    .venv/bin/python benchmarks/bench_bombs.py [--memory-mb 2048]

A real ``tre airlock serve`` (SQLite, development tokens) receives each bomb of
``tests/bombs.py`` in turn: a Parquet file declaring 300 million rows, a Parquet
dictionary bomb (honest footer, 2.5 GB decoded), a PNG declaring 50,000 x 50,000
pixels, JSON nested 100,000 deep (as a file and as the manifest), a spreadsheet
whose sheet inflates to 200 MB, and 20,000 sidecar parts.  For each: the answer,
the time to it and the server process's memory growth (VmHWM, reset before each
bomb through /proc/<pid>/clear_refs; the check workers are bounded by their own
limit, and one that reaches it is replaced, so the next answer waits for the new
worker's start, about a second).  Then
an ordinary request is checked, to show the server still answers.  Runs in well
under a minute; exits non-zero when a bomb is answered 5xx, the server's own
memory grows by 256 MB or more, or the ordinary request is not released.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_airlock import Server, make_tables, multipart  # noqa: E402

from tests.bombs import (  # noqa: E402
    deep_json,
    expanding_xlsx,
    parquet_dictionary_bomb,
    parquet_row_bomb,
    png_pixel_bomb,
)

GROWTH_LIMIT_MB = 256
HEADERS = {"Authorization": "token bench-alice-token"}


def sidecar_flood(n: int = 20_000) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\n'
             "demo-project\r\n", f'--{boundary}\r\nContent-Disposition: form-data; '
             'name="context"\r\n\r\ncounts\r\n', f'--{boundary}\r\nContent-Disposition: '
             'form-data; name="file"; filename="t.csv"\r\n\r\nregion,n\r\nNorth,25\r\n']
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="sidecar"; '
              f'filename="t{i}.csv.statbarn.json"\r\n\r\n{{}}\r\n' for i in range(n)]
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def _size(kw: dict[str, Any]) -> int:
    """The bytes a case sends: its raw body, or its files and fields."""
    if "content" in kw:
        return len(kw["content"])
    files = sum(len(f[1][1]) for f in kw["files"])
    return files + sum(len(str(v)) for v in kw["data"].values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-mb", type=int, default=2048,
                        help="TRE_AIRLOCK_CHECK_MEMORY_MB of the server")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-bombs-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        files: dict[str, tuple[str, bytes]] = {
            "parquet, 300 million rows declared": (
                "rows.parquet", parquet_row_bomb(work / "rows.parquet").read_bytes()),
            "parquet dictionary, 2.5 GB decoded": (
                "dict.parquet", parquet_dictionary_bomb(work / "dict.parquet",
                                                        width=25_000).read_bytes()),
            "png, 50,000 x 50,000 pixels": ("plot.png", png_pixel_bomb()),
            "json file, 100,000 deep": ("deep.json", deep_json()),
            "xlsx, sheet inflating to 200 MB": ("book.xlsx", expanding_xlsx()),
        }
        print(f"bombs made in {time.perf_counter() - t0:.1f} s; server check workers: "
              f"{args.memory_mb} MB of address space each")
        url = f"sqlite:///{work / 'srv' / 'tre.db'}"
        with Server(url, work / "srv", TRE_AIRLOCK_CHECK_MEMORY_MB=str(args.memory_mb)) as server, \
                httpx.Client(base_url=server.url, headers=HEADERS, timeout=120) as client:
            warm = client.post("/api/requests", data={"project": "demo-project",
                                                      "context": "warm-up"},
                               files=[("file", ("w.csv", b"region,n\nNorth,25\n"))])
            assert warm.status_code == 201, warm.text
            cases: list[tuple[str, dict[str, Any]]] = [
                (label, {"data": {"project": "demo-project", "context": "a bomb"},
                         "files": [("file", (name, body, "application/octet-stream"))]})
                for label, (name, body) in files.items()]
            cases.append(("manifest, 100,000 deep", {
                "data": {"project": "demo-project", "context": "x",
                         "manifest": deep_json().decode()},
                "files": [("file", ("t.csv", b"region,n\nNorth,25\n"))]}))
            flood, ctype = sidecar_flood()
            cases.append(("20,000 sidecar parts", {"content": flood,
                                                    "headers": {"Content-Type": ctype}}))
            print(f"{'bomb':<38} {'size':>9}  {'answer':<18} {'time':>7}  server growth")
            for label, kw in cases:
                size = _size(kw)
                before = server.status_kb("VmRSS")
                server.reset_peak()
                start = time.perf_counter()
                r = client.post("/api/requests", **kw)
                took = time.perf_counter() - start
                growth = (server.status_kb("VmHWM") - before) / 1024
                code = r.json().get("code", r.json().get("state", ""))
                print(f"{label:<38} {size / 1024:>7.0f} KB  {r.status_code} {code:<14} "
                      f"{took:>6.2f} s  {growth:>8.1f} MB")
                if r.status_code >= 500 or growth >= GROWTH_LIMIT_MB:
                    failed = True
            tables = make_tables(work)
            body, ctype = multipart(tables)
            start = time.perf_counter()
            ok = client.post("/api/requests", content=body, headers={"Content-Type": ctype})
            print(f"then an ordinary request: {ok.status_code} {ok.json().get('state')} in "
                  f"{(time.perf_counter() - start) * 1000:.0f} ms")
            failed = failed or ok.json().get("state") != "released"
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
