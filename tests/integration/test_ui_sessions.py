"""Sessions end when they should, and pages apply the API's object-level rules (issue 13).

Before: a copy of the UI cookie stayed valid for 8 hours after logout; a suspended
user, or one whose membership had ended, still saw their requests and the checkers'
reasons on /mine; checkers could preview the files of drafts and withdrawn requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airlock.ui.session import COOKIE
from tests.harness import airlock as airlock_testing
from tests.harness.airlock import PROJECT, WORKSPACE_ADDRESS, Api, Harness, airlock_app
from tests.harness.pages import Pages, TestClient
from tests.hostile import png_bytes
from tre.authz.lint import read_policy_file
from tre.clock import FixedClock
from tre.db import upgrade

pytestmark = pytest.mark.integration

PNG = png_bytes()  # a real image (fake ones are refused); escalates to a person
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def env(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Api, Harness]]:
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    with airlock_app(url, tmp_path / "data", clock=clock) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def cookie_of(pages: Pages) -> str:
    value = pages.client.cookies.get(COOKIE)
    assert value
    return str(value)


def with_cookie(h: Harness, value: str) -> TestClient:
    client = TestClient(h.app, follow_redirects=False)
    client.cookies.set(COOKIE, value)
    return client


def test_logout_ends_the_session_at_once(env: tuple[Api, Harness]) -> None:
    _, h = env
    carol = Pages(h.app, "carol")
    copied = cookie_of(carol)
    assert with_cookie(h, copied).get("/queue").status_code == 200
    assert carol.post("/logout").status_code == 200
    # The copy (an attacker's, another tab's) is worth nothing now: pages and API alike.
    r = with_cookie(h, copied).get("/queue")
    assert r.status_code == 303 and "/login" in r.headers["location"]
    assert with_cookie(h, copied).get("/api/me").status_code == 401
    Pages(h.app, "carol")  # logging in again works


def test_suspension_ends_the_session_and_mine_shows_nothing(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, h = env
    r = api.submit("alice", [("plot.png", PNG)])
    assert r.status_code == 201
    alice = Pages(h.app, "alice")
    copied = cookie_of(alice)
    # (her browser is outside: an in-review request is listed, its file names are not)
    assert r.json()["id"][:8] in alice.get("/mine").text
    (tmp_path / "policy").mkdir()
    policy = airlock_testing.test_policy(tmp_path / "policy")
    policy.write_text(policy.read_text()
                      + "g, alice, suspended, *, 2026-05-01, 2099-01-01\n")
    h.ctx.authz.replace(read_policy_file(policy))  # what the poll does within 2 s
    r = with_cookie(h, copied).get("/mine")
    assert r.status_code == 303 and "/login" in r.headers["location"]
    # And the session stays ended even after the suspension is lifted.
    (tmp_path / "again").mkdir()
    h.ctx.authz.replace(read_policy_file(airlock_testing.test_policy(tmp_path / "again")))
    assert with_cookie(h, copied).get("/mine").status_code == 303


def test_mine_hides_requests_of_an_ended_membership(
    env: tuple[Api, Harness], clock: FixedClock
) -> None:
    api, h = env
    r = api.submit("zoe", [("plot.png", PNG)], project="other-project")
    assert r.status_code == 201, r.text
    zoe = Pages(h.app, "zoe")
    rid = r.json()["id"]
    assert rid[:8] in zoe.get("/mine").text  # listed (its content is shown only inside)
    clock.set(datetime(2099, 1, 2, tzinfo=UTC))  # zoe's membership ended on 2099-01-01
    page = zoe.get("/mine")
    assert page.status_code == 200
    assert rid[:8] not in page.text
    assert api.get("zoe", f"/api/requests/{r.json()['id']}").status_code == 404  # as the API


def test_checkers_preview_only_requests_put_to_review(env: tuple[Api, Harness]) -> None:
    api, h = env
    draft = api.submit("alice", [("plot.png", PNG)], extra={"draft": "true"}).json()
    url = f"/api/requests/{draft['id']}/files/{draft['files'][0]['id']}/content"
    r = api.get("carol", url)
    assert r.status_code == 409 and "draft" in r.json()["detail"]
    page = Pages(h.app, "carol").get(f"/requests/{draft['id']}")
    assert page.status_code == 200 and "plot.png" not in page.text  # a draft shows nothing
    assert api.post("alice", f"/api/requests/{draft['id']}/submit").status_code == 200
    assert api.get("carol", url).status_code == 200  # in review: the checker looks
    other = api.submit("alice", [("plot.png", PNG)], extra={"draft": "true"}).json()
    assert api.post("alice", f"/api/requests/{other['id']}/withdraw").status_code == 200
    r = api.get("carol", f"/api/requests/{other['id']}/files/{other['files'][0]['id']}/content")
    assert r.status_code == 409 and "withdrawn" in r.json()["detail"]
    assert PROJECT == "demo-project"


def test_a_suspended_user_is_refused_on_the_login_page_with_a_notice(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    """Issue 14, finding 8: before, the login set a session that the next request ended,
    and the user landed on the login form again without a word.  Now the login itself
    is refused with the notice, no session is made, and the refusal is audited."""
    from tre import audit

    _, h = env
    (tmp_path / "policy").mkdir()
    policy = airlock_testing.test_policy(tmp_path / "policy")
    policy.write_text(policy.read_text()
                      + "g, alice, suspended, *, 2026-05-01, 2099-01-01\n")
    h.ctx.authz.replace(read_policy_file(policy))
    client = TestClient(h.app, follow_redirects=False)
    page = client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login", data={"csrf_token": csrf, "token": "alice-dev-token",
                                    "next": "/mine"})
    assert r.status_code == 403
    notice = r.text.split('id="login-refused"')[1].split("</p>")[0]
    assert "Your access to the TRE is suspended" in notice and "data custodian" in notice
    assert client.get("/mine").status_code == 303  # not logged in
    with h.ctx.db() as s:
        refused = [e.as_dict() for e in audit.iter_events(s)
                   if e.action == "airlock.login.refused"]
    assert [(e["actor"], e["details"]["reason"]) for e in refused] == [("alice", "suspended")]
    Pages(h.app, "carol")  # others still log in
