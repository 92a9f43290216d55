"""Logging in from a browser.

- **Hub** (``TRE_AIRLOCK_IDENTITY=hub``, the airlock running as a JupyterHub
  service): JupyterHub OAuth through :class:`jupyterhub.services.auth.HubOAuth`,
  with PKCE.  The OAuth state, the PKCE verifier and the page to return to are
  kept in the signed session cookie rather than in HubOAuth's memory, so the
  callback may reach any worker of ``tre airlock serve --workers N``.
- **Development** (``TRE_AIRLOCK_IDENTITY=dev``, only with
  ``TRE_ENVIRONMENT=development``): a form that takes a development token and
  asks :class:`airlock.identity.DevTokenIdentity` whose it is.  Refused (404)
  anywhere else.

Either way the result is a signed session cookie (:mod:`airlock.ui.session`)
with a fresh session id.  Every form posts a CSRF token (:func:`checked_form`).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from airlock.identity import DevTokenIdentity, IdentityError, User
from airlock.service import pages
from airlock.ui.errors import LoginRequired, PageError
from airlock.ui.render import UI, ctx_of, render, session_of, set_session, ui_of
from airlock.ui.revocation import end_session, suspended
from airlock.ui.session import CSRF_FIELD, Session

log = logging.getLogger("airlock.ui")
router = APIRouter(include_in_schema=False)


def page_user(request: Request) -> str:
    """The logged-in user of a page, or :class:`LoginRequired`."""
    user = getattr(request.state, "user", None)
    if isinstance(user, User):
        return user.name
    url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(url)


def safe_next(ui: UI, value: str | None) -> str:
    """Only a path of this service: never another site (an open redirect)."""
    home = f"{ui.base}/"
    if not value or not value.startswith(home) or value.startswith("//") or "\\" in value:
        return home
    return value


async def checked_form(request: Request) -> FormData:
    """The posted form, if it carries this session's CSRF token (else 403).  Browsers
    that say where a request comes from (Sec-Fetch-Site) must say this site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise PageError(403, "Refused", "This form was posted from another site.")
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not ui_of(request).signer.csrf_ok(session_of(request),
                                         token if isinstance(token, str) else None):
        raise PageError(403, "Form expired", "This form has expired or did not come from "
                        "this page: reload the page and try again.")
    return form


def dev_login_allowed(request: Request) -> bool:
    ctx = ctx_of(request)
    return (ui_of(request).dev_login and ctx.settings.platform.environment == "development"
            and isinstance(request.app.state.identity, DevTokenIdentity))


def _hub_oauth(request: Request) -> Any:
    """HubOAuth from the environment the hub gives its services (JUPYTERHUB_*)."""
    cached = getattr(request.app.state, "ui_hub_oauth", None)
    if cached is not None:
        return cached
    try:
        from jupyterhub.services.auth import HubOAuth

        auth = HubOAuth(api_url=ctx_of(request).settings.airlock.hub_api_url,
                        cache_max_age=60)
        missing = [name for name, value in (("JUPYTERHUB_CLIENT_ID", auth.oauth_client_id),
                                            ("JUPYTERHUB_API_TOKEN", auth.api_token))
                   if not value]
    except Exception as exc:  # traitlets refuses a malformed setting
        missing = [str(exc)]
    if missing:
        raise PageError(503, "Browser login is not configured",
                        "Run the airlock as a JupyterHub service (the hub gives it "
                        f"JUPYTERHUB_CLIENT_ID and JUPYTERHUB_API_TOKEN); missing: "
                        f"{', '.join(missing)}")
    request.app.state.ui_hub_oauth = auth
    return auth


SUSPENDED_NOTICE = ("Your access to the TRE is suspended, so you cannot log in to the "
                    "airlock. Ask your project's data custodian or the TRE's governance team "
                    "why, and when it ends.")


def _refuse_suspended(request: Request, user: str) -> bool:
    """A suspended user gets no session (it would be ended at their next request, and
    the page after the login would say nothing): the login is refused, and audited."""
    ctx = ctx_of(request)
    if not suspended(ctx, user):
        return False
    pages.record_login_refused(ctx, user, "suspended",
                               "dev" if ui_of(request).dev_login else "hub")
    return True


async def _logged_in(request: Request, user: str, next_url: str) -> Response:
    ui = ui_of(request)
    if await anyio.to_thread.run_sync(_refuse_suspended, request, user):
        log.info("browser login refused (suspended): %s", user)
        return render(request, "login.html", 403, next_url=safe_next(ui, next_url),
                      error=None, refused=SUSPENDED_NOTICE)
    response = RedirectResponse(safe_next(ui, next_url), status_code=303)
    set_session(response, ui, (session_of(request) or Session.anonymous()).logged_in(user))
    log.info("browser login: %s", user)
    return response


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    ui = ui_of(request)
    if dev_login_allowed(request):
        return render(request, "login.html", next_url=safe_next(ui, next), error=None)
    auth = _hub_oauth(request)
    verifier, challenge, method = auth.generate_pkce_code_challenge()
    state = secrets.token_urlsafe(16)
    session = (session_of(request) or Session.anonymous()).with_oauth(
        state=state, verifier=verifier, next=safe_next(ui, next))
    query = urlencode({"state": state, "code_challenge": challenge,
                       "code_challenge_method": method})
    response = RedirectResponse(f"{auth.login_url}&{query}", status_code=302)
    set_session(response, ui, session)
    return response


@router.post("/login")
async def dev_login(request: Request) -> Response:
    if not dev_login_allowed(request):
        raise PageError(404, "Not found", "There is no development login here.")
    form = await checked_form(request)
    token, next_url = str(form.get("token") or ""), str(form.get("next") or "")
    try:
        user = await request.app.state.identity.authenticate(token.strip())
    except IdentityError:
        return render(request, "login.html", 401, next_url=safe_next(ui_of(request), next_url),
                      error="That token is not known.")
    return await _logged_in(request, user.name, next_url)


@router.get("/oauth_callback")
async def oauth_callback(request: Request) -> Response:
    auth = _hub_oauth(request)
    params = request.query_params
    if params.get("error"):
        raise PageError(400, "Login failed", str(params.get("error_description")
                                                  or params["error"]))
    session = session_of(request)
    expected = session.oauth.get("state") if session is not None else None
    code, state = params.get("code"), params.get("state")
    if not code or not expected or not state or not secrets.compare_digest(expected, state):
        raise PageError(403, "Login failed", "The login did not start here or has expired: "
                        "try again.")
    assert session is not None
    try:
        token = await auth.token_for_code(code, code_verifier=session.oauth.get("verifier"),
                                          sync=False)
        model = await auth.user_for_token(token, use_cache=False, sync=False)
    except Exception as exc:  # tornado's HTTPError from HubOAuth: the hub said no
        log.warning("hub OAuth failed: %s", exc)
        raise PageError(502, "Login failed", "The hub did not confirm the login.") from None
    if not model or not model.get("name"):
        raise PageError(403, "Login failed", "The hub did not say who you are.")
    return await _logged_in(request, str(model["name"]), session.oauth.get("next", ""))


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request)
    session = session_of(request)
    if session is not None and session.user is not None:
        # Ended on the server too: a copy of the cookie is worth nothing from now on.
        await anyio.to_thread.run_sync(end_session, request.app.state.ctx, session, "logout")
    response = render(request, "logged_out.html")
    set_session(response, ui_of(request), None)
    return response
