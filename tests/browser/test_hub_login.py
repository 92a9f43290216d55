"""Logging in through a real JupyterHub: the airlock as the hub service that tre.hub
configures (started by the hub, behind its proxy), browser login by hub OAuth.

The hub runs with the demo's shared-password authenticator and a local spawner (no
workspace is started: only the login is under test).  A researcher's token is made
through the hub's API, as the hub makes one for each workspace, and her output is
submitted with it through the proxy; a checker then logs in with the hub's login
form, is sent back to the airlock by OAuth, and approves; the researcher logs in the
same way and downloads the release.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Browsing, Live, free_port, text_of, watch

PASSWORD = secrets.token_urlsafe(12)
ADMIN_TOKEN = secrets.token_hex(24)

CONFIG = '''
import json
from tre.hub.config import roles, services
from workspaces.settings import load_workspace_settings

s = json.loads({settings!r})
airlock = services(load_workspace_settings(airlock_port=s["airlock_port"]), s["env"])[0]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = s["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{{s['proxy_api_port']}}"
c.ConfigurableHTTPProxy.pid_file = s["dir"] + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + s["dir"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = s["dir"] + "/cookie_secret"
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = s["password"]
c.Authenticator.allowed_users = {{"alice", "carol", "dave"}}
c.JupyterHub.services = [airlock, {{"name": "test-admin", "api_token": s["admin_token"]}}]
c.JupyterHub.load_roles = [r for r in roles() if r["name"] == "user"] + [
    {{"name": "test-admin", "services": ["test-admin"], "scopes": ["admin:users", "tokens"]}}]
'''


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import shutil

    if shutil.which("configurable-http-proxy") is None:
        if os.environ.get("CI"):
            pytest.fail("configurable-http-proxy is needed for the hub login test in CI")
        pytest.skip("NO configurable-http-proxy: the real-hub login test was not run")
    folder = tmp_path_factory.mktemp("hub")
    port = free_port()
    settings = {
        "dir": str(folder), "port": port, "hub_port": free_port(),
        "proxy_api_port": free_port(), "airlock_port": free_port(), "password": PASSWORD,
        "admin_token": ADMIN_TOKEN,
        "env": {"TRE_DATA_DIR": str(folder / "tre"),
                "TRE_DATABASE_URL": f"sqlite:///{folder / 'tre.db'}",
                "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "hub",
                "TRE_AIRLOCK_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "TRE_LOG_LEVEL": "WARNING"},
    }
    (folder / "jupyterhub_config.py").write_text(CONFIG.format(settings=json.dumps(settings)))
    from tre.db import upgrade

    upgrade(f"sqlite:///{folder / 'tre.db'}")  # what scripts/up does first: tre db upgrade
    log = open(folder / "hub.log", "wb")  # noqa: SIM115 - closed below
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                             str(folder / "jupyterhub_config.py")], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/services/airlock/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the hub or its airlock did not start:\n"
                            + (folder / "hub.log").read_text()[-4000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def user_token(hub: str, user: str) -> str:
    r = httpx.post(f"{hub}/hub/api/users/{user}/tokens",
                   headers={"Authorization": f"token {ADMIN_TOKEN}"},
                   json={"scopes": ["access:services!service=airlock"], "note": "test"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def hub_login(chromium: Any, hub: str, user: str, path: str, shot: str | None = None
              ) -> Browsing:
    context = chromium.new_context(viewport={"width": 1280, "height": 800},
                                   accept_downloads=True)
    page = context.new_page()
    b = Browsing(user, context, page, Live(hub, None, httpx.Client()))
    watch(page, b.errors)
    page.goto(f"{hub}/services/airlock{path}")
    page.wait_for_selector("#username_input")  # the hub's own login form
    if shot:
        b.shot(shot)
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub}/services/airlock{path}*")
    return b


def test_login_through_the_hub_review_and_download(chromium: Any, hub: str,
                                                   tmp_path: Path) -> None:
    token = user_token(hub, "alice")
    r = httpx.post(f"{hub}/services/airlock/api/requests",
                   headers={"Authorization": f"token {token}"},
                   data={"project": "demo-project", "context": "notes on the method"},
                   files=[("file", ("method.md", b"# Method\n\nNo numbers here.\n",
                                    "text/markdown"))])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["state"] == "in_review"

    opened = []
    try:
        carol = hub_login(chromium, hub, "carol", "/queue", shot="20-hub-login")
        opened.append(carol)
        assert rid[:8] in text_of(carol.page, "#queue")
        assert "carol" in text_of(carol.page, "header")
        carol.shot("21-hub-oauth-queue")
        carol.page.locator(f'a[href$="/requests/{rid}"]').click()
        carol.page.wait_for_load_state("load")
        carol.page.check('input[value="approve"]')
        carol.page.locator("#submit-review-button").click()  # a draft, then its summary
        carol.page.wait_for_load_state("load")
        carol.page.locator("#confirm-review").click()
        carol.page.wait_for_load_state("load")
        assert "released" in text_of(carol.page, "h1")

        alice = hub_login(chromium, hub, "alice", "/mine")
        opened.append(alice)
        with alice.page.expect_download() as info:
            alice.page.locator(f"#rq-{rid} a", has_text="Download").click()
        info.value.save_as(tmp_path / "bundle.zip")
        assert (tmp_path / "bundle.zip").stat().st_size > 0
        alice.shot("22-hub-oauth-mine")
        problems = [f"{b.user}: {e}" for b in opened for e in b.errors]
        assert not problems, "JavaScript console errors:\n" + "\n".join(problems)
    finally:
        for b in opened:
            b.context.close()
