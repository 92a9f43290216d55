"""Benchmark: the workspace image build, ``tre up``, and spawn-to-ready.

    .venv/bin/python benchmarks/bench_spawn.py [--spawns N]

Needs root and a Docker engine (scripts/docker-engine).  In order:

1. ``tre image build`` twice: the first as things stand (cold only on a machine
   without the image), the second with nothing changed (BuildKit's cache);
2. ``tre up`` on this machine with the image built, in a data directory, ports and
   network scope of its own (:func:`tests.harness.hub.running_tre`): seconds until
   the hub answers through its proxy, demo catalog seeded;
3. N times (default 10): alice starts a workspace in demo-project through the hub's
   REST API; the time from the request to the hub reporting the server ready; then
   it is stopped.

Exits non-zero if the median spawn is 5 s or more, or ``tre up`` takes 30 s or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness is under tests/, not in the packages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=10)
    args = parser.parse_args()

    from tests.harness.hub import connect_docker, running_tre
    from tre.image import build
    from workspaces.settings import load_workspace_settings

    api = connect_docker()
    builds = []
    for _ in range(2):
        started = time.monotonic()
        result = build(load_workspace_settings())
        builds.append(time.monotonic() - started)
    print(f"image build: {builds[0]:.1f}s, then {builds[1]:.2f}s with nothing changed"
          + (" (the base was built too)" if result.base_built else ""))

    with tempfile.TemporaryDirectory(prefix="tre-bench-") as tmp, \
            running_tre(Path(tmp), api) as tre:
        print(f"tre up (image built): {tre.up_seconds:.1f}s")
        for _ in range(args.spawns):
            tre.spawn("alice", {"project": "demo-project"})
            tre.stop("alice")
        spawns = tre.spawn_seconds
    median = statistics.median(spawns)
    print(f"spawn to ready over {len(spawns)} spawns: median {median:.2f}s, "
          f"min {min(spawns):.2f}s, max {max(spawns):.2f}s")
    return 0 if median < 5 and tre.up_seconds < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
