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

from airlock.domain.review import AlreadyVoted, OwnRequest, ReviewClosed, VoteError
from airlock.domain.states import IllegalTransition
from airlock.identity import IdentityError
from airlock.intake import IntakeError
from airlock.service.context import Conflict, Denied, NotFound, record_denial
from airlock.store import StoreError, TamperedError
from statbarn.errors import ProfileError
from tre.authz import Forbidden
from tre.authz.refusals import record_refusal

log = logging.getLogger("airlock.api")


def problem(status: int, code: str, message: str, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    return JSONResponse({"detail": message, "code": code}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(IntakeError)
    async def _intake(_r: Request, exc: IntakeError) -> JSONResponse:
        return problem(exc.status, exc.code, str(exc))

    @app.exception_handler(IdentityError)
    async def _identity(_r: Request, exc: IdentityError) -> JSONResponse:
        headers = {"WWW-Authenticate": "token"} if exc.status == 401 else None
        code = "unauthenticated" if exc.status == 401 else "hub_unavailable"
        return problem(exc.status, code, str(exc), headers)

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> JSONResponse:
        await run_in_threadpool(record_denial, request.app.state.ctx, exc)
        return problem(exc.status, "not_found" if exc.status == 404 else "forbidden", str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(r: Request, exc: Forbidden) -> JSONResponse:
        ctx = r.app.state.ctx
        d = exc.decision
        await anyio.to_thread.run_sync(record_refusal, ctx.db, d, d.obj, d.domain, ctx.clock)
        return problem(403, "forbidden", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "not_found", str(exc))

    @app.exception_handler(IllegalTransition)
    async def _illegal(_r: Request, exc: IllegalTransition) -> JSONResponse:
        return problem(409, "illegal_transition", str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return problem(409, "conflict", str(exc))

    @app.exception_handler(VoteError)
    async def _vote(_r: Request, exc: VoteError) -> JSONResponse:
        if isinstance(exc, OwnRequest):
            return problem(403, "own_request", str(exc))
        if isinstance(exc, AlreadyVoted | ReviewClosed):
            return problem(409, "vote_closed", str(exc))
        return problem(422, "bad_vote", str(exc))

    @app.exception_handler(TamperedError)
    async def _tampered(_r: Request, exc: TamperedError) -> JSONResponse:
        log.error("integrity failure: %s", exc)
        return problem(500, "integrity", f"refused: {exc}; the operators have been alerted "
                       "through the audit log")

    @app.exception_handler(StoreError)
    async def _store(_r: Request, exc: StoreError) -> JSONResponse:
        log.error("store failure: %s", exc)
        return problem(500, "store", f"the file store failed: {exc}")

    @app.exception_handler(ProfileError)
    async def _profile(_r: Request, exc: ProfileError) -> JSONResponse:
        log.error("profile failure: %s", exc)
        return problem(500, "profile", f"the project's disclosure profile cannot be loaded: {exc}")

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

    @app.exception_handler(Exception)
    async def _unexpected(_r: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error (reference %s)", ref, exc_info=exc)
        return problem(500, "internal", f"internal error (reference {ref}); it has been logged")
