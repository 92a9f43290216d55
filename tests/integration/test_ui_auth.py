"""Browser login: JupyterHub OAuth (against a hub API the test serves on loopback), the
development login and where it is refused, and what a session cookie can and cannot do."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airlock.api.app import create_app
from airlock.db.engine import airlock_engine
from airlock.settings import load_airlock_settings
from airlock.ui.session import COOKIE, Session, Signer
from tests.harness import airlock as airlock_testing
from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app
from tests.harness.pages import Pages, TestClient
from tre.authz import Authz, policy_settings
from tre.db import session_factory, upgrade
from tre.settings import load_settings

STRONG_KEY = "f3a9c1d27be84e6a90d5c3b71e2f48a6"  # random hex: production accepts it

pytestmark = pytest.mark.integration

PREFIX = "/services/airlock"
SERVICE_TOKEN = "service-token-0123456789"
CLIENT_ID = "service-airlock"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    with airlock_app(url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


class FakeHub:
    """The two hub API calls HubOAuth makes: the token for a code, and whose token it is."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (user, PKCE challenge)
        self.tokens: dict[str, str] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(
                    int(self.headers["Content-Length"])).decode()).items()}
                user, challenge = hub.codes.pop(form.get("code", ""), ("", ""))
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if (self.path != "/hub/api/oauth2/token" or not user
                        or form.get("client_secret") != SERVICE_TOKEN
                        or form.get("client_id") != CLIENT_ID or digest != challenge):
                    self._send(400, {"error": "invalid_grant"})
                    return
                token = f"oauth-{user}-token"
                hub.tokens[token] = user
                self._send(200, {"access_token": token, "token_type": "Bearer"})

            def do_GET(self) -> None:
                token = self.headers.get("Authorization", "").partition(" ")[2]
                if self.path != "/hub/api/user" or token not in hub.tokens:
                    self._send(403, {"message": "no"})
                    return
                self._send(200, {"name": hub.tokens[token], "kind": "user",
                                 "scopes": [f"access:services!service={CLIENT_ID[8:]}"]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def hub_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, FakeHub]]:
    """The airlock as a hub service (production settings, hub identity) under its prefix."""
    hub = FakeHub()
    for name, value in {"JUPYTERHUB_API_TOKEN": SERVICE_TOKEN, "JUPYTERHUB_CLIENT_ID": CLIENT_ID,
                        "JUPYTERHUB_SERVICE_PREFIX": PREFIX + "/",
                        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{PREFIX}/oauth_callback",
                        "JUPYTERHUB_API_URL": f"{hub.url}/hub/api"}.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    platform = load_settings(data_dir=tmp_path / "data", database_url=url,
                             environment="production", secret_key=STRONG_KEY)
    settings = load_airlock_settings(platform, identity="hub", hub_api_url=f"{hub.url}/hub/api",
                                     base_path=PREFIX)
    engine = airlock_engine(url)
    authz = Authz.from_files(policy_settings().model_file, airlock_testing.test_policy(tmp_path))
    app = create_app(settings, db=session_factory(engine), authz=authz)
    with TestClient(app):
        yield app, hub
    hub.close()
    authz.close()
    engine.dispose()


def _oauth_login(app: Any, hub: FakeHub, user: str) -> Pages:
    pages = Pages(app, base=PREFIX)
    first = pages.get("/queue")
    assert first.status_code == 303 and first.headers["location"].startswith(
        f"{PREFIX}/login?next={PREFIX}/queue")
    go = pages.client.get(first.headers["location"])
    assert go.status_code == 302
    target = urlsplit(go.headers["location"])
    assert target.path == "/hub/api/oauth2/authorize"
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert q["client_id"] == CLIENT_ID and q["redirect_uri"] == f"{PREFIX}/oauth_callback"
    assert q["code_challenge_method"] == "S256"
    hub.codes["the-code"] = (user, q["code_challenge"])  # the hub: user logged in, said yes
    back = pages.get(f"/oauth_callback?code=the-code&state={q['state']}")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"{PREFIX}/queue"
    return pages


def test_hub_oauth_login(hub_app: tuple[Any, FakeHub]) -> None:
    app, hub = hub_app
    carol = _oauth_login(app, hub, "carol")
    page = carol.get("/queue")
    assert page.status_code == 200 and "carol" in page.text
    cookie = next(c for c in carol.client.cookies.jar if c.name == COOKIE)
    assert cookie.path == PREFIX and cookie.has_nonstandard_attr("HttpOnly")
    assert f'href="{PREFIX}/static/airlock.css' in page.text
    # no development login on a hub service, in production
    assert carol.post("/login", {"token": "carol-dev-token"}).status_code == 404


def test_hub_oauth_login_of_a_suspended_user_is_refused_with_a_notice(
        hub_app: tuple[Any, FakeHub]) -> None:
    """Issue 14, finding 8, through the hub: mallory (suspended in the demo policy) is
    confirmed by the hub, and the airlock's login page refuses her with the notice
    (before: a session that her next request ended, and the login again, wordless)."""
    app, hub = hub_app
    pages = Pages(app, base=PREFIX)
    go = pages.client.get(f"{PREFIX}/login?next={PREFIX}/mine")
    q = {k: v[0] for k, v in parse_qs(urlsplit(go.headers["location"]).query).items()}
    hub.codes["the-code"] = ("mallory", q["code_challenge"])
    back = pages.get(f"/oauth_callback?code=the-code&state={q['state']}")
    assert back.status_code == 403 and 'id="login-refused"' in back.text
    assert "suspended" in back.text and 'id="token"' not in back.text  # no dev form
    assert pages.get("/mine").status_code == 303  # no session


def test_hub_oauth_refuses_a_callback_it_did_not_start(hub_app: tuple[Any, FakeHub]) -> None:
    app, hub = hub_app
    pages = Pages(app, base=PREFIX)
    hub.codes["stolen"] = ("carol", "x")
    r = pages.get("/oauth_callback?code=stolen&state=guessed")
    assert r.status_code == 403
    go = pages.client.get(f"{PREFIX}/login")  # a real start, then a wrong state
    state = parse_qs(urlsplit(go.headers["location"]).query)["state"][0]
    assert pages.get(f"/oauth_callback?code=stolen&state={state}x").status_code == 403
    # right state, but a code the hub does not honour (wrong PKCE verifier): no session
    assert pages.get(f"/oauth_callback?code=stolen&state={state}").status_code == 502
    assert pages.get("/queue").status_code == 303
    assert pages.get("/oauth_callback?error=access_denied").status_code == 400


def test_hub_login_without_oauth_settings_says_so(hub_app: tuple[Any, FakeHub],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = hub_app
    monkeypatch.delenv("JUPYTERHUB_CLIENT_ID")
    app.state.ui_hub_oauth = None
    r = Pages(app, base=PREFIX).get("/login")
    assert r.status_code == 503 and "JupyterHub service" in r.text


def test_dev_login_rejects_unknown_tokens(env: tuple[Api, Harness]) -> None:
    _, h = env
    pages = Pages(h.app)
    pages.get("/login")
    r = pages.post("/login", {"token": "nobody-token-123"})
    assert r.status_code == 401 and "not known" in r.text
    assert pages.get("/queue").status_code == 303


def test_login_never_redirects_off_site(env: tuple[Api, Harness]) -> None:
    _, h = env
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", ""):
        pages = Pages(h.app)
        pages.get("/login")
        r = pages.post("/login", {"token": "carol-dev-token", "next": target})
        assert r.status_code == 303 and r.headers["location"] == "/", target


def test_a_forged_or_expired_cookie_is_no_session(env: tuple[Api, Harness]) -> None:
    _, h = env
    carol = Pages(h.app, "carol")
    value = carol.client.cookies[COOKIE]
    body, mac = value.split(".")
    other = Signer(b"another key")
    for forged in (other.dump(Session("sid", "grace", 9e12)), body + "." + mac[::-1],
                   h.app.state.ui.signer.dump(Session("sid", "grace", 1.0)), "garbage"):
        anon = Pages(h.app)
        anon.client.cookies.set(COOKIE, forged)
        assert anon.get("/governance").status_code == 303


def test_login_rotates_the_session(env: tuple[Api, Harness]) -> None:
    _, h = env
    pages = Pages(h.app)
    pages.get("/login")
    before = h.app.state.ui.signer.load(pages.client.cookies[COOKIE])
    pages.post("/login", {"token": "carol-dev-token"})
    after = h.app.state.ui.signer.load(pages.client.cookies[COOKIE])
    assert before is not None and after is not None and after.user == "carol"
    assert before.sid != after.sid  # a session fixed before login is worth nothing after
