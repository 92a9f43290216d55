"""One ASGI middleware for the browser side: who the session says the user is, and
the security headers of every response.

- The signed session cookie (:mod:`airlock.ui.session`) is read once per request,
  and a logged-in one is checked against the sessions ended early (logout,
  suspension: :mod:`airlock.ui.revocation`); an ended one counts as no session.
  Its user is put where :func:`airlock.api.deps.current_user` looks first
  (``request.state.user``), for the pages and for *safe* API calls (GET, HEAD:
  images and PDFs shown in a page, bundle downloads).  An unsafe API call (POST)
  is never authenticated by the cookie: the JSON API has no CSRF token, so a
  browser session must not be able to drive it; only a hub token can.  The pages'
  own forms carry a CSRF token (:func:`airlock.ui.auth.checked_form`).
- Headers: a Content-Security-Policy that allows only this origin (no inline
  script or style, no data: URLs, no framing by others), nosniff, no referrer
  off-site.  A response that already has a CSP (the API's sandboxed file
  previews) keeps its own.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlock.identity import User
from airlock.ui.revocation import is_live
from airlock.ui.session import COOKIE, Signer

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "font-src 'self'; connect-src 'self'; object-src 'self'; frame-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no session, not an error
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel is not None else None
    return None


class BrowserMiddleware:
    def __init__(self, app: ASGIApp, signer: Signer, api_prefix: str) -> None:
        self.app, self.signer, self.api_prefix = app, signer, api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self.signer.load(_cookie(scope))
        if session is not None and session.user is not None:
            ctx = scope["app"].state.ctx
            if not await anyio.to_thread.run_sync(is_live, ctx, session):
                session = None
        state: dict[str, Any] = scope.setdefault("state", {})
        state["ui_session"] = session
        path: str = scope.get("path", "")
        if session is not None and session.user and (
                scope.get("method") in SAFE_METHODS or not path.startswith(self.api_prefix)):
            state["user"] = User(session.user)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = CSP
                    headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
