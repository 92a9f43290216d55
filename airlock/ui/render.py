"""Templates and the shared parts of every page: the user, the CSRF token, the menu.

Jinja2 autoescapes everything (file names, cells, comments are data, never
markup), and ``StrictUndefined`` makes a template that names a missing value
fail in the tests instead of rendering a blank.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from airlock.identity import User
from airlock.service.context import Ctx
from airlock.service.queries import queue_projects
from airlock.ui import explain
from airlock.ui.session import COOKIE, Session, Signer
from tre import __version__
from tre.clock import utc

HERE = Path(__file__).parent


@dataclass
class UI:
    """What the pages share; lives on ``app.state.ui``."""

    signer: Signer
    base: str
    secure_cookies: bool
    dev_login: bool  # False: hub OAuth
    env: jinja2.Environment


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)[:16].replace("T", " ") if value else ""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(when=_when, size=_size, rule_name=explain.rule_name,
                       label=explain.label, state=lambda s: str(s).replace("_", " "))
    env.globals["version"] = __version__
    return env


def ui_of(request: Request) -> UI:
    ui: UI = request.app.state.ui
    return ui


def ctx_of(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def session_of(request: Request) -> Session | None:
    s = getattr(request.state, "ui_session", None)  # set by BrowserMiddleware
    return s if isinstance(s, Session) else None


def page_user_or_none(request: Request) -> str | None:
    user = getattr(request.state, "user", None)
    return user.name if isinstance(user, User) else None


def set_session(response: Response, ui: UI, session: Session | None) -> None:
    path = ui.base or "/"
    if session is None:
        response.delete_cookie(COOKIE, path=path, secure=ui.secure_cookies, httponly=True,
                               samesite="lax")
        return
    response.set_cookie(COOKIE, ui.signer.dump(session),
                        max_age=max(1, int(session.exp - time.time())), path=path,
                        secure=ui.secure_cookies, httponly=True, samesite="lax")


def nav(ctx: Ctx, user: str | None) -> dict[str, bool]:
    if user is None:
        return {"queue": False, "mine": False, "governance": False}
    from airlock.ui.other_pages import governance_scope

    everything, projects = governance_scope(ctx, user)
    return {"queue": queue_projects(ctx, user) != [], "mine": True,
            "governance": everything or bool(projects)}


def render(request: Request, template: str, status: int = 200, *, user: str | None = None,
           **context: Any) -> HTMLResponse:
    ui = ui_of(request)
    session = session_of(request)
    fresh = None
    if session is None:  # a form needs a CSRF token, and the token needs a session
        session = fresh = Session.anonymous()
    html = ui.env.get_template(template).render(
        base=ui.base, user=user, csrf=ui.signer.csrf(session), nav=nav(ctx_of(request), user),
        dev_login=ui.dev_login, **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if fresh is not None:
        set_session(response, ui, fresh)
    return response
