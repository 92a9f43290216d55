"""Helpers for testing the pages without a browser (and for the page benchmark).

``Pages(app, "carol")`` is a client with its own cookie jar, logged in through the
development login form; ``post`` adds the CSRF token of the last page it fetched,
as a browser submitting that page's form would.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx is what we ship
    from starlette.testclient import TestClient

__all__ = ["Pages", "TestClient"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Pages:
    def __init__(self, app: Any, user: str | None = None, *, base: str = "") -> None:
        # Not entered as a context manager: the app's lifespan belongs to whoever made it.
        self.client = TestClient(app, follow_redirects=False)
        self.base = base
        self.csrf: str | None = None
        if user is not None:
            self.login(user)

    def _remember(self, response: Any) -> Any:
        found = _CSRF.search(response.text) if "text/html" in response.headers.get(
            "content-type", "") else None
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self._remember(self.client.get(self.base + path, **kw))

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             **kw: Any) -> Any:
        form = dict(data or {})
        if csrf and self.csrf:
            form.setdefault("csrf_token", self.csrf)
        return self._remember(self.client.post(self.base + path, data=form, **kw))

    def login(self, user: str, token: str | None = None) -> Any:
        self.get("/login")
        r = self.post("/login", {"token": token or f"{user}-dev-token",
                                 "next": f"{self.base}/mine"})
        assert r.status_code == 303, r.text
        self.get("/mine")  # the session id changed at login: so did the CSRF token
        return r
