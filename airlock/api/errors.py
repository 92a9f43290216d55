"""Every error becomes JSON with a human message (``detail``) and a stable ``code``;
never a traceback.  Refusals by the authorisation point are audited here, once the
use case's transaction has been rolled back."""

from __future__ import annotations

import logging
import uuid

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from airlock.service.context import Denied, record_denial
from statbarn.errors import ProfileError, StatbarnError
from tre.authz import Forbidden
from tre.authz.refusals import record_refusal
from tre.errors import TreError

log = logging.getLogger("airlock.api")

# What a server-side failure tells the caller (by the error's code); the log holds the rest.
# Only the integrity refusal repeats its words (they name the caller's own file); a store's
# or a profile's would name the server's paths, buckets or backend messages.
_SERVER_WORDS = {
    "integrity": "refused: {}; the operators have been alerted through the audit log",
    "store": "the file store failed (reference {ref}); the operators have the details "
             "in the log",
    "profile": "the project's disclosure profile cannot be loaded (reference {ref}); the "
               "operators have the details in the log",
}


def problem(status: int, code: str, message: str, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    return JSONResponse({"detail": message, "code": code}, status_code=status, headers=headers)


async def tre_error(request: Request, exc: Exception) -> JSONResponse:
    """The one answer for an error raised on purpose: its status, its code, its message.

    A refusal of the authorisation point is audited first (after the use case's
    transaction was rolled back); a server-side failure is logged.
    """
    assert isinstance(exc, TreError | StatbarnError)
    if isinstance(exc, StatbarnError) and not isinstance(exc, ProfileError):
        # The airlock hands statbarn only what it checked; anything else is a bug.
        return await unexpected(request, exc)
    ctx = request.app.state.ctx
    if isinstance(exc, Denied):
        await run_in_threadpool(record_denial, ctx, exc)
    elif isinstance(exc, Forbidden):
        d = exc.decision
        await anyio.to_thread.run_sync(record_refusal, ctx.db, d, d.obj, d.domain, ctx.clock)
    message = str(exc)
    if exc.status >= 500:
        ref = uuid.uuid4().hex[:12]
        log.error("%s failure (reference %s): %s", exc.code, ref, exc)
        message = _SERVER_WORDS.get(exc.code, "{}").format(exc, ref=ref)
    headers = {"WWW-Authenticate": "token"} if exc.status == 401 else None
    return problem(exc.status, exc.code, message, headers)


async def unexpected(_r: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error (reference %s)", ref, exc_info=exc)
    return problem(500, "internal", f"internal error (reference {ref}); it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TreError, tre_error)
    app.add_exception_handler(StatbarnError, tre_error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                why = (err.get("ctx") or {}).get("error", "")
                at = err.get("loc", ("", "?"))[-1]
                parts.append(f"the body is not valid JSON (at character {at}: {why})")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return problem(422, "invalid", "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, "http", str(exc.detail), dict(exc.headers or {}))

    app.add_exception_handler(Exception, unexpected)
