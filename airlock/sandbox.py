"""Reading untrusted files in worker processes under limits.

Every parser the airlock runs on an uploaded file (type detection, the checks,
and whatever format code the check runner grows) runs here, in a pre-started
worker process with an address-space limit (``RLIMIT_AS``), a CPU-time limit
(``RLIMIT_CPU``) and a file-size limit (``RLIMIT_FSIZE``), and with a wall-clock
deadline enforced from outside.  A file that gets past the declared-size checks
and still blows up (a decompression or dictionary bomb, a pathological regex)
then costs one worker, never the server: the caller gets :class:`LimitExceeded`
(a clean 413), the worker is replaced, and the other requests carry on.

Why one process per slot with its own pipe, and not a ``ProcessPoolExecutor``: a
pool whose worker dies marks *every* pending future broken, so a bomb would fail
the requests being checked beside it; and the executor's queues and threads cost
more CPU per call than the checks of a small table.  Each slot here has its own
process; a dead one fails only its own call.

Why pre-started: starting a Python with pandas costs about a second; a warm
worker costs a pickle round trip (about a millisecond) per call.  The CPU limit
is cumulative per process, so each call moves the soft limit to "used so far +
the allowance" (SIGXCPU at the soft limit becomes an exception in the worker; a
worker stuck in C code is killed at the wall-clock deadline instead).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import os
import queue
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from statbarn.wording import seconds
from tre.errors import TreError

T = TypeVar("T")
# Thread pools of numeric libraries reserve address space per thread (and arenas per
# thread in glibc); one thread each keeps a worker near 520 MB of address space rather
# than 1.8 GB, so the memory limit measures what a check allocates.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMEXPR_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
               "ARROW_DEFAULT_MEMORY_POOL": "system"}
# What a worker imports before its first call (so the first upload does not pay).
_WARM_MODULES = ("airlock.checks", "airlock.filetypes", "statbarn.reading", "pyarrow.parquet")
STARTUP_SECONDS = 300  # a worker that cannot start in this time is broken
RECYCLE_AFTER = 1000  # calls: a long-lived worker's heap only grows; start a fresh one


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int  # address space of a worker (imports included: ~520 MB)
    cpu_seconds: int  # CPU time of one call
    file_bytes: int  # largest file a call may write
    wall_seconds: float  # one call, from outside: a worker stuck in C code is killed


class LimitExceeded(TreError):
    """A call went past one of the limits; ``str(exc)`` says which, in words."""

    code = "limit_exceeded"
    status = 422

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


class _CpuTime(BaseException):  # BaseException: no ``except Exception`` in a parser eats it
    pass


_IN_CALL = False  # SIGXCPU is only turned into an exception inside a call


def _on_xcpu(_signum: int, _frame: object) -> None:
    if _IN_CALL:
        raise _CpuTime()


def _init(limits: SandboxLimits) -> None:
    """In the worker, before anything else: environment, limits, then the imports."""
    os.environ.update(_WORKER_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; we end on EOF
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    for name in _WARM_MODULES:
        # an optional format library may be missing: its checks say so when used
        with contextlib.suppress(ImportError):
            __import__(name)
    try:
        import pyarrow

        pyarrow.set_cpu_count(1)
        pyarrow.set_io_thread_count(1)
    except ImportError:
        pass
    # As the server does at start-up (airlock/api/app.py): the modules' objects are moved
    # out of the collector's reach, or every full collection walks all of pandas.
    gc.collect()
    gc.freeze()
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))


def _call(limits: SandboxLimits, fn: Callable[..., Any], args: tuple[Any, ...]
          ) -> tuple[str, Any]:
    """In the worker: run ``fn`` with this call's CPU allowance; limits become words."""
    global _IN_CALL
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (used + limits.cpu_seconds, resource.RLIM_INFINITY))
    try:
        _IN_CALL = True
        return "ok", fn(*args)
    except MemoryError:
        return "limit", f"more than {limits.memory_bytes / 1024**2:,.0f} MB of memory"
    except _CpuTime:
        return "limit", f"more than {seconds(limits.cpu_seconds)} of CPU time"
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            return "limit", f"writing a file larger than {limits.file_bytes / 1024**2:,.0f} MB"
        raise
    finally:
        _IN_CALL = False
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class _Broken(Exception):
    """The worker died (killed by the kernel at a hard limit) or could not start."""


def _serve(conn: Connection, limits: SandboxLimits) -> None:
    """The worker's loop: one call at a time, answered on the same pipe.  A plain pipe,
    not a ProcessPoolExecutor: the executor's queues and threads cost about 1 ms of
    CPU per call in the server and more in the worker (measured), the pipe a pickle."""
    _init(limits)
    conn.send(("ready", None))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        try:
            answer: tuple[str, Any] = _call(limits, fn, args)
        except BaseException as exc:  # every error goes back to the caller
            answer = ("error", exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an answer that does not pickle: say so, in words
            conn.send(("error", RuntimeError(f"a check's answer could not be sent: {exc}")))


class _Worker:
    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        self.calls = 0
        ctx = get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, limits), daemon=True,
                                name="airlock-check-worker")
        self.proc.start()  # the imports happen now, in the background
        child.close()
        self.ready = False

    def call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> tuple[str, Any]:
        try:
            if not self.ready:
                # The start-up (a second or two of imports, more on a busy machine) is
                # not the call's: the wall clock starts once the worker is ready.
                if not self.conn.poll(STARTUP_SECONDS):
                    raise _Broken("the check worker did not start")
                self.conn.recv()
                self.ready = True
            self.calls += 1
            self.conn.send((fn, args))
            if not self.conn.poll(self.limits.wall_seconds):
                raise TimeoutError
            answer: tuple[str, Any] = self.conn.recv()
            return answer
        except (EOFError, ConnectionError) as exc:  # it died: a hard limit, or the OOM killer
            raise _Broken(str(exc)) from None

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)
        self.conn.close()


class Sandbox:
    """``workers`` pre-started worker processes; :meth:`call` waits for a free one."""

    def __init__(self, limits: SandboxLimits, workers: int) -> None:
        self.limits = limits
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(workers):
            self._idle.put(self._new())

    def _new(self) -> _Worker:
        worker = _Worker(self.limits)
        with self._lock:
            self._all.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        return self._new()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker: its result, its exception (which must pickle), or
        :class:`LimitExceeded`.  ``fn`` must be importable (a module-level function)."""
        worker = self._idle.get()
        try:
            try:
                status, value = worker.call(fn, args)
            except TimeoutError:
                worker = self._retire(worker)
                raise LimitExceeded(f"more than {seconds(self.limits.wall_seconds)}") from None
            except _Broken:
                worker = self._retire(worker)  # killed (the kernel's memory or CPU limit)
                raise LimitExceeded("more memory or CPU time than a check may use") from None
            if status == "error":
                raise value
            if status == "limit":
                worker = self._retire(worker)  # its heap may be in any state: start afresh
                raise LimitExceeded(value)
            if worker.calls >= RECYCLE_AFTER:
                worker = self._retire(worker)
            result: T = value
            return result
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), []
        for worker in workers:
            worker.kill()


_SANDBOXES: dict[tuple[SandboxLimits, int], Sandbox] = {}
_SANDBOXES_LOCK = threading.Lock()


def sandbox_for(limits: SandboxLimits, workers: int) -> Sandbox:
    """One sandbox per process and configuration, started on first use (every app in a
    process shares it: the test suite starts its workers once, not per test)."""
    key = (limits, workers)
    with _SANDBOXES_LOCK:
        box = _SANDBOXES.get(key)
        if box is None:
            box = _SANDBOXES[key] = Sandbox(limits, workers)
        return box


@atexit.register
def _close_all() -> None:
    with _SANDBOXES_LOCK:
        boxes = list(_SANDBOXES.values())
        _SANDBOXES.clear()
    for box in boxes:
        box.close()
