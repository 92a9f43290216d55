"""The airlock's web pages, for output checkers, researchers and governance.

Server-rendered (Jinja2) with one small script for the keyboard; every asset
is served from the airlock itself (a TRE has no internet), under a
Content-Security-Policy that allows only this origin.  ``install(app)`` adds
the pages, their static files, the session middleware and the pages' error
handlers to the airlock's FastAPI app (one call in :func:`airlock.api.app.create_app`).

Modules: ``auth`` (hub OAuth and the development login), ``session`` (signed
cookies, CSRF), ``middleware`` (session -> user, security headers), ``routes``
(the pages), ``*_page`` and ``other_pages`` (view models), ``tables``,
``notebook``, ``explain``, ``history`` (rendering helpers).  The pages only
render: every database read and write they cause goes through the service layer
(:mod:`airlock.service.pages` for what the API's use cases do not offer), which
``tests/unit/test_ui_layering.py`` enforces.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from airlock.identity import DevTokenIdentity
from airlock.service.context import Ctx
from airlock.ui.errors import LoginRequired, PageError
from airlock.ui.middleware import BrowserMiddleware
from airlock.ui.render import HERE, UI, environment, page_user_or_none, render
from airlock.ui.session import Signer, secret_key


def install(app: FastAPI) -> None:
    ctx: Ctx = app.state.ctx
    base = ctx.settings.airlock.base_path
    app.state.ui = UI(
        signer=Signer(secret_key(ctx.settings.platform)),
        base=base,
        secure_cookies=ctx.settings.airlock.public_url.startswith("https://"),
        dev_login=isinstance(app.state.identity, DevTokenIdentity),
        env=environment(),
    )
    from airlock.ui import auth, routes

    app.include_router(auth.router, prefix=base)
    app.include_router(routes.router, prefix=base)
    app.mount(f"{base}/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.add_middleware(BrowserMiddleware, signer=app.state.ui.signer,
                       api_prefix=f"{base}/api/")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = exc.next_url
        if request.method != "GET":  # a form's action (…/vote): come back to its page
            target = target.split("?", 1)[0].rsplit("/", 1)[0] or f"{base}/"
        return RedirectResponse(f"{base}/login?next={quote(target, safe='/')}",
                                status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        """Unknown paths, wrong methods: an HTML page for a browser, JSON for the API."""
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(f"{base}/api/") or not _wants_html(request):
            return await http_exception_handler(request, exc)
        title, message = _HTTP_WORDS.get(exc.status_code, ("Error", str(exc.detail)))
        return render(request, "error.html", exc.status_code,
                      user=page_user_or_none(request), title=title, message=message)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return render(request, "error.html", exc.status, user=page_user_or_none(request),
                      title=exc.title, message=exc.message)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


_HTTP_WORDS = {
    404: ("Not found", "There is no page at this address. Start again from the queue or "
          "your requests."),
    405: ("Not possible here", "This address does not take that kind of request: if you "
          "came from a form, go back to its page and send it again."),
}


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.headers.get("sec-fetch-mode") == "navigate"


__all__ = ["install"]
