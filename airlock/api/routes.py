"""The routes: authenticate, hand over to a use case, shape the answer.  No business
logic and no authorisation here: every use case asks :mod:`tre.authz` itself."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from starlette.background import BackgroundTask

from airlock.api.deps import CtxDep, CurrentUser
from airlock.intake import OVERHEAD_PER_PART, REVISE_FIELDS, IntakeError, Limits, receive
from airlock.service import actions, download, queries, revise, voting
from airlock.service.context import Ctx, require
from airlock.service.incoming import check_identifier
from airlock.service.requests import NEW
from statbarn.wording import mb
from tre import __version__

router = APIRouter()


def _checking(request: Request, ctx: Ctx) -> anyio.CapacityLimiter:
    """The turns of uploads being checked and recorded (TRE_AIRLOCK_CHECK_CONCURRENCY at a
    time, first come first served): made on first use, in the event loop's thread."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "checking", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(ctx.settings.airlock.check_concurrency)
        request.app.state.checking = limiter
    return limiter


def _limits(ctx: Ctx) -> Limits:
    a = ctx.settings.airlock
    return Limits(ctx.settings.max_file_bytes, ctx.settings.max_request_bytes, a.max_files,
                  a.max_field_bytes, ctx.settings.max_parts, a.body_timeout_seconds)


@router.get("/api/health", tags=["service"])
def health(ctx: CtxDep) -> dict[str, Any]:
    """Liveness and readiness: the database answers and the store is writable."""
    with ctx.db() as s:
        s.execute(text("SELECT 1"))
    writable = ctx.store.tmp.is_dir()
    return {"status": "ok" if writable else "degraded", "version": __version__,
            "database": "ok", "store": "ok" if writable else "not writable"}


@router.get("/api/me", tags=["service"])
def me(ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    """Who the caller is, and where they hold roles (for clients and the UI)."""
    projects = ctx.authz.domains_of(user.name)
    return {"name": user.name, "kind": user.kind, "origin": user.origin.value,
            "roles": {p: ctx.authz.roles_in(user.name, p) for p in projects}}


def _refuse_oversized(request: Request, limits: Limits) -> None:
    """A declared length over the limit is refused before a byte of the body is read."""
    length = request.headers.get("content-length")
    budget = limits.max_request_bytes + limits.parts * OVERHEAD_PER_PART
    if length and length.isdigit() and int(length) > budget:
        raise IntakeError(413, f"the request is larger than the limit of "
                          f"{mb(limits.max_request_bytes)}", "too_large")


@router.post("/api/requests", status_code=201, tags=["requests"])
async def submit(request: Request, ctx: CtxDep, user: CurrentUser) -> JSONResponse:
    """Create (and, unless ``draft=true``, submit) a request: multipart form with
    ``project``, optional ``dataset``, ``context``, ``manifest`` and ``draft``, then
    ``file`` parts and optional ``sidecar`` parts (``<file>.statbarn.json``).  The body
    is streamed to disk; send ``project`` first so a refusal comes before the upload."""
    limits = _limits(ctx)
    _refuse_oversized(request, limits)

    def early(name: str, value: str) -> None:
        if name == "project":  # refuse before receiving any file
            project = check_identifier(value, "project", True) or ""
            require(ctx, user.name, project, "request", "create", NEW, user.name)

    with ctx.store.work_dir() as work:
        upload = await receive(request.stream(), request.headers.get("content-type", ""),
                               ctx.store, limits, early)
        try:
            view = await anyio.to_thread.run_sync(
                functools.partial(actions.submit_upload, ctx, user.name, upload, work,
                                  user.origin),
                limiter=_checking(request, ctx))
        finally:
            upload.discard()
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


@router.get("/api/requests", tags=["requests"])
def list_requests(
    ctx: CtxDep, user: CurrentUser,
    scope: Literal["mine", "queue", "project"] = "mine",
    project: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """``scope=mine`` (default): the caller's requests; ``queue``: requests waiting for
    review where the caller is a checker, oldest first; ``project``: a project's."""
    if scope == "project" and not project:
        raise IntakeError(422, "scope=project needs project=...", "missing_field")
    return queries.list_views(ctx, user.name, scope=scope, project=project, states=state,
                              limit=limit, offset=offset, origin=user.origin)


@router.get("/api/requests/{request_id}", tags=["requests"])
def get_request(request_id: str, ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    return queries.get_view(ctx, user.name, request_id, user.origin)


@router.get("/api/requests/{request_id}/history", tags=["requests"])
def get_history(request_id: str, ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    """The audit trail of the request and its release."""
    return {"events": queries.history(ctx, user.name, request_id, user.origin)}


@router.post("/api/requests/{request_id}/submit", tags=["requests"])
def submit_draft(request_id: str, ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    actions.submit_draft(ctx, user.name, request_id)
    return queries.get_view(ctx, user.name, request_id, user.origin)


@router.post("/api/requests/{request_id}/withdraw", tags=["requests"])
def withdraw(request_id: str, ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    actions.withdraw(ctx, user.name, request_id)
    return queries.get_view(ctx, user.name, request_id, user.origin)


@router.post("/api/requests/{request_id}/resubmit-safe-alternative", status_code=201,
             tags=["requests"])
def resubmit(request_id: str, ctx: CtxDep, user: CurrentUser) -> JSONResponse:
    """Turn a rejected (or returned) request's safe alternatives into a new request."""
    view = actions.resubmit_safe_alternative(ctx, user.name, request_id, user.origin)
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


@router.post("/api/requests/{request_id}/revise", status_code=201, tags=["requests"])
async def revise_request(request_id: str, request: Request, ctx: CtxDep,
                         user: CurrentUser) -> JSONResponse:
    """Revise a returned request from inside a workspace: multipart with ``file`` parts
    (a file named like one of the request's replaces it, any other is added) and their
    ``sidecar`` parts, ``remove`` (a JSON list of names), ``answer`` (to the checkers),
    ``context`` and ``manifest`` for the uploaded files.  A new request, checked as new;
    the returned one is withdrawn.  Refused (403) from outside a workspace, before the
    body is read."""
    limits = _limits(ctx)
    _refuse_oversized(request, limits)
    await anyio.to_thread.run_sync(revise.allowed, ctx, user.name, request_id, user.origin)
    with ctx.store.work_dir() as work:
        upload = await receive(request.stream(), request.headers.get("content-type", ""),
                               ctx.store, limits, fields=REVISE_FIELDS)
        try:
            view = await anyio.to_thread.run_sync(
                functools.partial(revise.revise, ctx, user.name, request_id, upload, work,
                                  user.origin),
                limiter=_checking(request, ctx))
        finally:
            upload.discard()
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


class VoteIn(BaseModel):
    # A misspelt field (``coment``) is refused, not dropped: a vote must carry what its
    # reviewer wrote.
    model_config = ConfigDict(extra="forbid")

    file_id: str = Field(min_length=1, max_length=64)
    choice: Literal["approve", "reject", "request_changes"]
    comment: str | None = Field(None, max_length=20_000)
    override_reason: str | None = Field(None, max_length=20_000)


class VotesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    votes: list[VoteIn] = Field(min_length=1, max_length=1000)


@router.post("/api/requests/{request_id}/votes", tags=["review"])
def vote(request_id: str, body: VotesIn, ctx: CtxDep, user: CurrentUser) -> dict[str, Any]:
    """Vote on files of a request in review (one or more votes, one transaction)."""
    ballots = [voting.Ballot(v.file_id, v.choice, v.comment, v.override_reason)
               for v in body.votes]
    voting.cast(ctx, user.name, request_id, ballots)
    return queries.get_view(ctx, user.name, request_id, user.origin)


def _send(out: download.Outgoing, inline: bool) -> FileResponse:
    disposition = "inline" if inline else "attachment"
    return FileResponse(
        out.path, media_type=out.media_type, filename=out.filename,
        content_disposition_type=disposition,
        headers={"X-Content-SHA256": out.sha256, "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "sandbox; default-src 'none'",
                 "Cache-Control": "no-store"},
        background=BackgroundTask(out.path.unlink, missing_ok=True),
    )


@router.get("/api/requests/{request_id}/bundle", tags=["release"])
def get_bundle(request_id: str, ctx: CtxDep, user: CurrentUser) -> FileResponse:
    """The release bundle (zip): files, record.json, ACRO results.json.  Requester only,
    released requests only; every stored file is re-hashed on the way out."""
    return _send(download.bundle(ctx, user.name, request_id), inline=False)


@router.get("/api/requests/{request_id}/files/{file_id}/content", tags=["review"])
def file_content(request_id: str, file_id: str, ctx: CtxDep, user: CurrentUser,
                 alternative: bool = False) -> FileResponse:
    """A file under review (or its safe alternative), for reviewers to look at."""
    out = download.preview(ctx, user.name, request_id, file_id, alternative)
    return _send(out, inline=True)
