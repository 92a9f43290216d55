"""The check workers' limits (airlock.sandbox): memory, CPU time, file size and the
wall clock each end in LimitExceeded with words, the worker is replaced, and a call
running beside it is not disturbed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.sandbox import LimitExceeded, Sandbox, SandboxLimits

pytestmark = pytest.mark.unit
LIMITS = SandboxLimits(memory_bytes=1024**3, cpu_seconds=1, file_bytes=1024**2,
                       wall_seconds=20)


# Run inside the worker (imported there by name).
def pid() -> int:
    return os.getpid()


def allocate(n: int) -> int:
    return len(bytearray(n))


def spin() -> None:
    while True:
        pass


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def write(path: str, n: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"\0" * n)


def refuse(message: str) -> None:
    raise ValueError(message)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(LIMITS, 2)
    yield sandbox
    sandbox.close()


def test_memory_past_the_limit_is_a_limit_and_the_worker_is_replaced(box: Sandbox) -> None:
    assert box.call(allocate, 10 * 1024**2) == 10 * 1024**2
    with pytest.raises(LimitExceeded, match="more than 1,024 MB of memory"):
        box.call(allocate, 3 * 1024**3)
    assert box.call(allocate, 1024) == 1024  # a fresh worker answers


def test_cpu_time_past_the_limit(box: Sandbox) -> None:
    with pytest.raises(LimitExceeded, match="more than 1 second of CPU time"):
        box.call(spin)


def test_a_large_write_is_refused(box: Sandbox, tmp_path: Path) -> None:
    box.call(write, str(tmp_path / "small"), 1000)
    with pytest.raises(LimitExceeded, match="writing a file larger than 1 MB"):
        box.call(write, str(tmp_path / "big"), 2 * 1024**2)


def test_errors_come_back_as_they_are(box: Sandbox) -> None:
    with pytest.raises(ValueError, match="no such table"):
        box.call(refuse, "no such table")
    assert box.call(allocate, 1) == 1


def test_the_wall_clock_kills_a_stuck_worker() -> None:
    stuck = Sandbox(SandboxLimits(1024**3, 60, 1024**2, wall_seconds=1), 1)
    try:
        first = stuck.call(pid)
        with pytest.raises(LimitExceeded, match="more than 1 second"):
            stuck.call(sleep, 30)
        assert stuck.call(pid) != first
    finally:
        stuck.close()


def test_a_bomb_does_not_disturb_the_call_beside_it(box: Sandbox) -> None:
    results: dict[str, object] = {}

    def bomb() -> None:
        try:
            box.call(allocate, 3 * 1024**3)
        except LimitExceeded as exc:
            results["bomb"] = exc

    t = threading.Thread(target=bomb)
    t.start()
    results["ordinary"] = box.call(allocate, 4096)
    t.join(60)
    assert results["ordinary"] == 4096
    assert isinstance(results["bomb"], LimitExceeded)
