"""The application factory.  Nothing is created at import time: ``create_app()`` reads
settings when called (``uvicorn --factory airlock.api.app:create_app``), and every
collaborator can be handed in instead (tests, the demo, the hub integration)."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from airlock.api import errors, workspace_events
from airlock.api.deps import CurrentUser
from airlock.api.routes import router
from airlock.api.server import BodyDeadline
from airlock.db.engine import airlock_engine
from airlock.identity import DevTokenIdentity, HubIdentity, Identity
from airlock.profiles import ProfileResolver
from airlock.service.context import Ctx, Notifier
from airlock.service.requests import sandbox
from airlock.settings import Resolved, load_airlock_settings
from airlock.store import Store, open_store
from airlock.ui import install as install_ui
from statbarn.records import set_cache_bytes
from tre import __version__
from tre.audit import HoldStats
from tre.authz import Authz, load_authz
from tre.clock import Clock, SystemClock
from tre.db import session_factory

# Decoded record sets kept for reuse in the server process (statbarn.records): a
# release's record sets are compared with every later table of its project, and a
# table's are read at intake, compared and released.  A check worker keeps statbarn's
# default (32 MB), within its memory limit.
RECORDS_CACHE_BYTES = 256 << 20

log = logging.getLogger("airlock")


class NullNotifier:
    def state_changed(self, **_kw: Any) -> None:
        return None

    def close(self, timeout: float = 10.0) -> bool:
        return True


def default_notifier(db: sessionmaker[Session]) -> Notifier:
    """The durable notifier: deliveries written with the change (airlock.outbox)."""
    from airlock.outbox import OutboxNotifier

    return OutboxNotifier(db)


def default_identity(settings: Resolved) -> Identity:
    a = settings.airlock
    if a.identity == "dev":
        return DevTokenIdentity(a.dev_tokens, settings.platform.environment)
    return HubIdentity(a.hub_api_url, a.service_name, a.identity_cache_seconds)


def _install_docs(app: FastAPI, base: str) -> None:
    @app.get(f"{base}/api/openapi.json", include_in_schema=False)
    def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(f"{base}/api/docs", include_in_schema=False)
    def docs(_user: CurrentUser) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{base}/api/openapi.json",
                                   title="tre airlock API")


def lock_report() -> str:
    """How long this process held the locks that serialise requests: the audit log's head
    (every write, any project; on SQLite the whole write transaction) and the project's
    ledger lock (PostgreSQL: submissions and releases of one project).  Summed over the
    workers, divided by the requests, it is the serialised time per request (the Amdahl
    bound: benchmarks/bench_airlock.py)."""
    from airlock.db.repo import LEDGER_HOLDS
    from tre.audit import HOLDS

    def one(name: str, h: HoldStats) -> str:
        return (f"{name} {h.count} holds {h.total * 1000:.1f} ms "
                f"(longest {h.longest * 1000:.1f} ms, committing {h.committing * 1000:.1f} ms)")

    return (f"airlock locks (pid {os.getpid()}): {one('audit-head', HOLDS)}; "
            f"{one('ledger', LEDGER_HOLDS)}")


def _report_locks() -> None:
    # Written at shutdown, as `tre airlock serve` writes its start-up sweep: one line an
    # operator (or the benchmark) reads, whatever the log level.
    sys.stderr.write(lock_report() + "\n")
    sys.stderr.flush()


def create_app(
    settings: Resolved | None = None,
    *,
    db: sessionmaker[Session] | None = None,
    authz: Authz | None = None,
    identity: Identity | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    store: Store | None = None,
) -> FastAPI:
    settings = settings or load_airlock_settings()
    owned: list[Any] = []
    engine: Engine | None = None
    if db is None:
        engine = airlock_engine(settings.platform.database_url)
        db = session_factory(engine)
    clock = clock or SystemClock()
    if authz is None:
        authz = load_authz(db, clock)
        owned.append(authz)
    if notifier is None:
        notifier = default_notifier(db)
        owned.append(notifier)
    identity = identity or default_identity(settings)
    ctx = Ctx(settings=settings, db=db, store=store or open_store(settings), authz=authz,
              clock=clock, notifier=notifier, profiles=ProfileResolver(settings, db))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Start-up objects (modules, profiles, the policy) live as long as the process:
        # move them out of the collector's reach, so full collections stay short and do
        # not stall requests (measured: p95 of a large review page 236 ms -> ~110 ms).
        gc.collect()
        gc.freeze()
        set_cache_bytes(RECORDS_CACHE_BYTES)
        # The check workers start now (their imports take a second or two), not on the
        # first upload; they are shared by every app in the process (airlock/sandbox.py).
        sandbox(ctx)
        yield
        _report_locks()
        await identity.aclose()
        for thing in owned:
            try:
                thing.close()
            except Exception:  # shutting down: log and carry on
                log.exception("closing %r failed", thing)
        if engine is not None:
            engine.dispose()

    # The API's description is served to logged-in callers only (issue 13): it maps every
    # route and field for whoever reads it, so it is not for anonymous visitors.
    app = FastAPI(title="tre airlock", version=__version__, lifespan=lifespan,
                  docs_url=None, openapi_url=None, redoc_url=None)
    _install_docs(app, settings.airlock.base_path)
    app.state.ctx = ctx
    app.state.identity = identity
    errors.install(app)
    app.include_router(router, prefix=settings.airlock.base_path)
    app.include_router(workspace_events.router, prefix=settings.airlock.base_path)
    install_ui(app)  # the web pages (airlock/ui): routes, static files, session middleware
    # outermost: a stalled body on any route is a 408 (airlock/api/server.py)
    app.add_middleware(BodyDeadline, seconds=settings.airlock.body_timeout_seconds)
    return app
