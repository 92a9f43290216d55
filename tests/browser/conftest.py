"""Browser tests: the airlock's pages in a real headless Chromium (Debian's ``chromium``
driven by Playwright from PyPI through ``executable_path``; never ``playwright install``).

A real airlock (uvicorn on a loopback port, SQLite, the demo policy plus the
test memberships) serves each test module.  Researchers submit through the API
with their token, as the workspace client does; everyone else uses the pages.
Every page that a test opens must log no JavaScript console error and no
uncaught exception (CSP violations and failed loads are console errors too);
screenshots of each page go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.airlock import TOKENS, settings_for, test_policy
from tre.authz import Authz, policy_settings
from tre.clock import SystemClock

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TEST_OUTPUT_DIR", REPO / "test-output")) / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TRIAL = "trial-project"  # under the strict profile: two reviewers, no automatic release
EXTRA_MEMBERSHIPS = (
    f"g, alice, researcher, {TRIAL}, 2025-01-01, 2099-01-01",
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests need Chromium in CI: {reason}")
    pytest.skip(f"NO CHROMIUM, browser tests not run: {reason} "
                "(apt-get install chromium; pip install playwright)")


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing")
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield browser
    browser.close()
    pw.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A running airlock: its URL, its app (for reading the database) and an API client."""

    url: str
    app: Any
    api: httpx.Client

    def submit(self, user: str, files: list[tuple[str, bytes]], **fields: Any) -> dict[str, Any]:
        import json

        data: dict[str, str] = {"project": fields.pop("project", "demo-project")}
        if "manifest" in fields:
            data["manifest"] = json.dumps(fields.pop("manifest"))
        data["context"] = fields.pop("context", "a table made with statbarn")
        if "title" in fields:
            data["title"] = fields.pop("title")
        parts = [("file", (n, c, "application/octet-stream")) for n, c in files]
        parts += [("sidecar", (n, c, "application/json"))
                  for n, c in fields.pop("sidecars", [])]
        r = self.api.post("/api/requests", data=data, files=parts,
                          headers={"Authorization": f"token {user}-dev-token"})
        assert r.status_code == 201, r.text
        view = dict(r.json())
        if view.get("content_hidden"):
            # The test's API client is on loopback, outside the TRE, so the answer hides
            # the request's content (issue 10); a researcher in a workspace sees it.  The
            # tests still need the files' ids: read them from the database.
            from airlock.db import repo

            with self.app.state.ctx.db() as s:
                req = repo.get_request(s, view["id"])
                assert req is not None
                view["files"] = [{"id": f.id, "name": f.name, "verdict": f.verdict}
                                 for f in req.files]
        return view


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import uvicorn

    from airlock.api.app import create_app
    from airlock.db.engine import airlock_engine
    from tre.db import session_factory, upgrade

    folder = tmp_path_factory.mktemp("live-airlock")
    url = f"sqlite:///{folder / 'tre.db'}"
    upgrade(url)
    policy = test_policy(folder)
    policy.write_text(policy.read_text() + "\n".join((*EXTRA_MEMBERSHIPS, "")))
    port = free_port()
    settings = settings_for(url, folder / "data", project_profiles={TRIAL: "strict"},
                            public_url=f"http://127.0.0.1:{port}")
    engine = airlock_engine(url)
    authz = Authz.from_files(policy_settings().model_file, policy, SystemClock())
    app = create_app(settings, db=session_factory(engine), authz=authz)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the airlock did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as api:
        yield Live(base, app, api)
    server.should_exit = True
    thread.join(timeout=10)
    authz.close()
    engine.dispose()


@dataclass
class Browsing:
    """A logged-in browser context for one user, recording every console error."""

    user: str
    context: Any
    page: Any
    live: Live
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)  # axe, at every shot()

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.live.url + path)
        self.page.wait_for_load_state("load")
        return response

    def shot(self, name: str, full_page: bool = True) -> Path:
        """A screenshot of the page as it is, and an axe scan of the same state."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.violations.extend(f"{name}: {v}" for v in axe_violations(self.page))
        return path

    def csrf(self) -> str:
        token = self.page.locator('input[name="csrf_token"]').first.get_attribute("value")
        assert token
        return str(token)


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG A/AA violations on the page as it is now, one line each (rule,
    impact, the first nodes).  Loaded through evaluate: the pages' CSP allows no script
    but their own, and the airlock never serves axe."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""tags => window.axe.run(document,
        {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
        .then(r => r.violations.map(v => [v.id, v.impact, v.help,
              v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')]))""", AXE_TAGS)
    return [f"{rule} ({impact}): {text} at {where}" for rule, impact, text, where in found]


def watch(page: Any, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text} ({m.location})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))


@pytest.fixture
def browse(chromium: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``browse("carol")``: a fresh browser context logged in as carol through the
    development login form.  Fails the test on any console error in any of its pages."""
    opened: list[Browsing] = []

    def open_as(user: str, **context_options: Any) -> Browsing:
        options = {"viewport": {"width": 1280, "height": 800}, "accept_downloads": True,
                   **context_options}
        context = chromium.new_context(**options)
        page = context.new_page()
        b = Browsing(user, context, page, live)
        watch(page, b.errors)
        opened.append(b)
        token = next(t for t, u in TOKENS.items() if u == user)
        b.goto("/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        assert "/login" not in page.url, f"login as {user} failed"
        return b

    yield open_as
    problems = [f"{b.user}: {e}" for b in opened for e in b.errors]
    violations = [f"{b.user}: {v}" for b in opened for v in b.violations]
    for b in opened:
        b.context.close()
    assert not problems, "JavaScript console errors:\n" + "\n".join(problems)
    assert not violations, "axe violations:\n" + "\n".join(violations)


def cell_ids(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("td.flag", "els => els.map(e => e.id)"))


def text_of(page: Any, selector: str) -> str:
    return re.sub(r"\s+", " ", str(page.locator(selector).first.inner_text())).strip()

