"""The airlock's database engine: tre's, plus fair queuing of SQLite connections.

tre's SQLite engine begins every transaction with ``BEGIN IMMEDIATE`` (so the audit
chain's read-then-write serialises), which makes every transaction, reads included,
take SQLite's one write lock.  Threads that find it taken are left to SQLite's busy
handler, which polls with growing sleeps (up to 100 ms each): under load a few
unlucky requests wait seconds while others jump the queue.  Here the threads of a
process queue on a lock instead, held from connection checkout to checkin, so they
are served in turn without sleeping; other processes still meet SQLite's handler.

On PostgreSQL the pool keeps as many connections as a burst of requests uses: with
SQLAlchemy's default (5, plus 10 opened and closed again on demand), 20 concurrent
requests spend much of their time, and the database's CPU, opening connections.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from airlock.jsonenc import dumps
from tre.db import make_engine, normalise_url

WAIT_SECONDS = 60.0
# PostgreSQL: connections kept open, and more opened (then closed) beyond them.  Together
# the size of the thread pool that runs the routes (anyio's default, 40).
POOL_SIZE, POOL_OVERFLOW = 20, 20


class SqliteTurns:
    def __init__(self) -> None:
        # A plain lock (not an RLock): the pool may check a connection in from another
        # thread than the one that checked it out (garbage collection of a session).
        self._lock = threading.Lock()

    def checkout(self, *_args: Any) -> None:
        if not self._lock.acquire(timeout=WAIT_SECONDS):
            raise TimeoutError("the database was busy for too long")

    def checkin(self, *_args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # released already (invalidated connection)
            self._lock.release()


def airlock_engine(url: str, **kwargs: Any) -> Engine:
    if not normalise_url(url).startswith("sqlite"):
        kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
    # JSON columns written as json.dumps writes them, record sets without a character
    # by character pass (airlock.jsonenc)
    engine = make_engine(url, **{"json_serializer": dumps, **kwargs})
    if engine.dialect.name == "sqlite":
        turns = SqliteTurns()
        event.listen(engine, "checkout", turns.checkout)
        event.listen(engine, "checkin", turns.checkin)
    return engine
