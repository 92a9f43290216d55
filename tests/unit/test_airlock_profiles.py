"""The project profile resolver: a burst of requests reads the catalog and profile once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airlock import profiles
from airlock.profiles import ProfileResolver, ProjectInfo
from statbarn.profile import Profile

pytestmark = pytest.mark.unit


def test_a_burst_at_expiry_reads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = [1000.0]
    resolver = ProfileResolver(settings=None, db=None,  # type: ignore[arg-type]
                               monotonic=lambda: ticks[0])
    reads: list[str] = []
    monkeypatch.setattr(profiles, "TTL_SECONDS", 1.0)

    def read(project: str, now: float) -> ProjectInfo:
        reads.append(project)
        time.sleep(0.05)  # a slow catalog: the others arrive meanwhile
        info = ProjectInfo(Profile(name=f"p{len(reads)}"), False, frozenset())
        with resolver._lock:
            resolver._cache[project] = (now + profiles.TTL_SECONDS, info)
        return info

    monkeypatch.setattr(resolver, "_read", read)
    got: list[Any] = []

    def ask() -> None:
        got.append(resolver("demo-project").name)

    for expected_reads in (1, 2):
        threads = [threading.Thread(target=ask) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(reads) == expected_reads
        assert got[-10:] == [f"p{expected_reads}"] * 10
        ticks[0] += 1.5  # expired: the next burst reads again, once
    assert resolver.info("other").profile.name == "p3"
