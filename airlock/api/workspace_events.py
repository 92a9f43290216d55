"""Refusals inside a workspace, recorded in the TRE's audit log.

A workspace's Jupyter server refuses to send a dataset file (or any binary file) to
the browser, or to take a binary upload (tre.workspace.jupyter).  The workspace
cannot reach the database, so it posts each refusal here with its own hub token;
the event is recorded under that token's user, never under a name the body gives.

Bounded: every field has a length limit, and each user may record at most
:data:`PER_MINUTE` refusals a minute.  Beyond that the call is answered 429, and the
first call over the limit in a minute records one ``workspace.refusal.flood`` event,
so a flood meant to hide a refusal among many is itself in the log.

The path is text the workspace chose, and the audit log is read outside the TRE
(auditors, regulators): it is scanned as free text is (airlock.freetext) and kept to
:data:`MAX_PATH_CHARS` characters.  A path that holds identifiers or encoded data is
not stored: the refusal is recorded with the path withheld (what was found, never the
text) and the call is answered 422.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from airlock.api.deps import CtxDep, CurrentUser
from airlock.freetext import TextRefused, check_text
from airlock.service.context import Ctx, Denied, decide
from tre import audit
from tre.db import transaction

router = APIRouter()
PER_MINUTE = 60
_MAX_USERS = 10_000  # distinct users tracked at once (the window is a minute)
MAX_PATH_CHARS = 200  # what the audit event keeps of a path (its object_id's column)
WITHHELD = "(path withheld)"


class RefusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, max_length=64)
    path: str = Field(min_length=0, max_length=1000)
    route: Literal["contents", "upload", "files", "nbconvert", "view", "route"]
    reason: Literal["dataset", "binary", "too_large", "download"]


class _Window:
    """Calls per user in the current minute (one process; the count resets each minute)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._minute = 0
        self._counts: dict[str, int] = {}

    def count(self, user: str) -> int:
        """This call's number in the user's current minute (1 for the first)."""
        minute = int(self._now() // 60)
        with self._lock:
            if minute != self._minute or len(self._counts) > _MAX_USERS:
                self._minute, self._counts = minute, {}
            self._counts[user] = self._counts.get(user, 0) + 1
            return self._counts[user]


def _window_of(request: Request) -> _Window:
    window: _Window | None = getattr(request.app.state, "workspace_refusals", None)
    if window is None:  # one per app, made on first use
        window = request.app.state.workspace_refusals = _Window()
    return window


def _path(raw: str) -> tuple[str, TextRefused | None]:
    """The object_id to record: the path, scanned and shortened (a long one keeps its end,
    the file's name), or :data:`WITHHELD` with the refusal."""
    try:
        path = check_text(raw, "the refused file's path", 1000) or "/"
    except TextRefused as exc:
        return WITHHELD, exc
    if len(path) > MAX_PATH_CHARS:
        path = "..." + path[-(MAX_PATH_CHARS - 3):]
    return path, None


def _record(ctx: Ctx, user: str, body: RefusalIn, action: str) -> TextRefused | None:
    path, refused = _path(body.path)
    details = {"route": body.route, "reason": body.reason, "workspace": f"{user}/{body.project}"}
    if refused is not None:
        details["path_refused"] = str(refused)
    with transaction(ctx.db) as s:
        audit.record(s, actor=user, action=action, object_type="workspace-file",
                     object_id=path, project=body.project, details=details, clock=ctx.clock)
    return refused


@router.post("/api/workspace/refusals", status_code=201, tags=["workspace"])
def record_refusal(request: Request, body: RefusalIn, ctx: CtxDep,
                   user: CurrentUser) -> JSONResponse:
    """Record that the caller's workspace refused to hand a file to the browser (or to
    take one from it).  The caller must be allowed to work in the project."""
    decision = decide(ctx, user.name, body.project, "workspace", "spawn")
    if not decision.allowed:
        raise Denied(decision, "workspace", f"{user.name}/{body.project}")
    n = _window_of(request).count(user.name)
    if n > PER_MINUTE:
        if n == PER_MINUTE + 1:
            _record(ctx, user.name, body, "workspace.refusal.flood")
        return JSONResponse({"detail": f"more than {PER_MINUTE} refusals a minute: this one "
                             "is not recorded (the flood is)", "code": "rate_limited"},
                            status_code=429, headers={"Retry-After": "60"})
    refused = _record(ctx, user.name, body, "workspace.refusal")
    if refused is not None:  # recorded, without the path
        raise refused
    return JSONResponse({"recorded": True}, status_code=201)
