"""Issue 14 without a browser: the review as a draft (finding 3), the researcher's own
request (finding 6), the noise (finding 7) and the edges (finding 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from airlock.db.models import Request, Vote
from tests.browser.outputs import png
from tests.harness.airlock import (
    WORKSPACE_ADDRESS,
    Api,
    Harness,
    airlock_app,
    failing_table,
    safe_table,
)
from tests.harness.pages import Pages, TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def votes(h: Harness, rid: str) -> int:
    with h.ctx.db() as s:
        return int(s.scalar(select(func.count()).select_from(Vote)
                            .where(Vote.request_id == rid)) or 0)


def state(h: Harness, rid: str) -> str:
    with h.ctx.db() as s:
        req = s.get(Request, rid)
        assert req is not None
        return req.state


def section(html: str, ident: str) -> str:
    return html.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]


def _png_and_notes(api: Api) -> dict:  # type: ignore[type-arg]
    r = api.submit("alice", [("plot.png", png()), ("notes.md", b"# notes\n")],
                   extra={"title": "Plot and notes"})
    assert r.status_code == 201 and r.json()["state"] == "in_review", r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_review_is_a_draft_until_confirmed(env: tuple[Api, Harness]) -> None:
    api, h = env
    req = _png_and_notes(api)
    rid, (p, m) = req["id"], [f["id"] for f in req["files"]]
    carol = Pages(h.app, "carol")
    carol.get(f"/requests/{rid}")
    draft = {f"choice:{p}": "approve", f"choice:{m}": "reject",
             f"comment:{m}": "the notes name a ward"}
    r = carol.post(f"/requests/{rid}/review", draft)
    assert r.status_code == 200 and votes(h, rid) == 0  # a summary, nothing recorded
    summary = r.text.split('id="review-summary"')[1].split("</div>")[0]
    assert "approve plot.png" in summary and "reject notes.md" in summary
    assert "Rejecting notes.md rejects the whole request, including plot.png" in summary
    assert "This rejects the request at once." in summary and "cannot be undone" in summary
    assert f'name="choice:{m}" value="reject" checked' in r.text  # the draft is kept
    assert "the notes name a ward" in r.text
    # changed to "request changes" and confirmed: both votes, one transaction
    draft[f"choice:{m}"] = "request_changes"
    r = carol.post(f"/requests/{rid}/review", {**draft, "confirm": "yes"})
    assert r.status_code == 303 and "reviewed=2" in r.headers["location"]
    assert votes(h, rid) == 2 and state(h, rid) == "returned"
    page = carol.get(f"/requests/{rid}?reviewed=2").text
    assert 'id="reviewed"' in page and 'id="next-request"' in page
    assert page.count("you voted: ") == 2


def test_a_refused_review_keeps_every_choice_and_records_nothing(
        env: tuple[Api, Harness]) -> None:
    api, h = env
    req = _png_and_notes(api)
    rid, (p, m) = req["id"], [f["id"] for f in req["files"]]
    carol = Pages(h.app, "carol")
    carol.get(f"/requests/{rid}")
    r = carol.post(f"/requests/{rid}/review", {f"choice:{p}": "approve",
                                               f"choice:{m}": "reject", "confirm": "yes"})
    assert r.status_code == 422 and votes(h, rid) == 0
    assert "needs a comment" in r.text and m not in r.text.split('id="vote-error"')[1][:300]
    assert f'name="choice:{p}" value="approve" checked' in r.text


def test_next_request_skips_the_voted_and_the_own(env: tuple[Api, Harness]) -> None:
    api, h = env
    first = _png_and_notes(api)
    second = api.submit("alice", [("more.md", b"# more\n")]).json()
    api.submit("carol", [("own.md", b"# mine\n")])
    carol = Pages(h.app, "carol")
    r = carol.get(f"/queue/next?after={first['id']}")
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{second['id']}"
    api.vote("carol", second["id"], second["files"][0]["id"], "approve")
    r = carol.get(f"/queue/next?after={first['id']}")
    assert r.headers["location"] == "/queue?empty=1"


def test_the_researcher_sees_their_own_request(env: tuple[Api, Harness],
                                               tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    rejected = api.submit_table("alice", (path, side)).json()
    assert rejected["state"] == "rejected"
    alice = Pages(h.app, "alice")
    page = alice.get(f"/requests/{rejected['id']}").text
    # A rejected request's content is shown only inside the workspace that wrote it (issue
    # 10): her browser is outside, so the page says where to look and shows no cell.
    assert "shown only inside the workspace that wrote it" in page
    assert 'class="flag fail"' not in page and path.name not in page
    assert 'id="readonly"' not in page  # decided: no "you cannot review it"
    # a fail released over an override does not wear a red "fail" badge
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "context": "islands", "exception": "the clinic is public"}]).json()
    r = api.vote("carol", req["id"], req["files"][0]["id"], "approve",
                 override_reason="published by the ONS")
    assert r.status_code == 200 and state(h, req["id"]) == "released"
    card = alice.get("/mine").text.split(f'id="rq-{req["id"]}"')[1].split("</article>")[0]
    mine = card.split('<ul class="files">')[1].split("</ul>")[0]
    assert "overrode the automated fail" in mine and 'v-fail">fail' not in mine
    own = alice.get(f"/requests/{req['id']}").text
    header = own.split('id="file-1-h"')[1].split("</h2>")[0]
    assert "overrode the automated fail" in header and "v-fail" not in header


def test_no_noise(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "context": "islands", "exception": "the clinic is public"}]).json()
    rid, fid = req["id"], req["files"][0]["id"]
    carol = Pages(h.app, "carol")
    carol.get(f"/requests/{rid}")
    carol.get(f"/requests/{rid}")  # two loads before: four "viewed" events in the log
    page = carol.get(f"/requests/{rid}").text
    decision = section(page, "decision")
    flag_message = page.split('<ol class="flags">')[1].split('class="flag-why">')[1] \
        .split("</span>")[0]
    assert flag_message and flag_message not in decision  # listed once, with the file
    assert "1 flag" in decision
    assert "you asked for a review" not in page and "the researcher asked for a review" in page
    assert "comparable earlier release" not in page
    history = section(page, "history-h")
    assert history.count("viewed ") == 2  # the table and its alternative, once each
    assert "(2 times; this is the last)" in history
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve"})
    assert r.status_code == 422 and fid not in r.text.split('id="vote-error"')[1][:400]
    assert path.name in r.text.split('id="vote-error"')[1][:400]
    safe, sside = safe_table(tmp_path)
    auto = api.submit_table("alice", (safe, sside)).json()
    assert auto["state"] == "released"
    auto_page = carol.get(f"/requests/{auto['id']}").text
    assert "quorum is not reached" not in auto_page and 'id="auto-decided"' in auto_page


def test_error_pages_are_html_and_an_expired_form_comes_back(env: tuple[Api, Harness]) -> None:
    api, h = env
    rid = _png_and_notes(api)["id"]
    carol = Pages(h.app, "carol")
    html = {"accept": "text/html"}
    for path, status in (("/no/such/page", 404), (f"/requests/{rid}/vote", 405)):
        r = carol.get(path, headers=html)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html")
        assert '"detail"' not in r.text and "<h1>" in r.text
    api_404 = carol.get("/api/no-such-thing", headers=html)
    assert api_404.headers["content-type"].startswith("application/json")
    anon = Pages(h.app)
    r = anon.post(f"/requests/{rid}/vote", {"file_id": "x", "choice": "reject"}, csrf=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/requests/{rid}"  # the page, not the action


def test_open_the_file_shows_a_table(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "context": "islands", "exception": "the clinic is public"}]).json()
    carol = Pages(h.app, "carol")
    page = carol.get(f"/requests/{req['id']}").text
    view = f"/requests/{req['id']}/files/{req['files'][0]['id']}/view"
    assert f'href="{view}"' in page
    r = carol.get(view)
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == "inline" and "region" in r.text
    assert "sandbox" in r.headers["content-security-policy"]
    assert Pages(h.app, "alice").get(view).status_code in (403, 404)  # reviewers only


def test_governance_lands_on_its_page_and_can_search(env: tuple[Api, Harness]) -> None:
    _, h = env
    grace = Pages(h.app, "grace")
    assert grace.get("/").headers["location"] == "/governance"  # not an empty "My requests"
    everything = grace.get("/governance").text
    assert "erin" in everything and "alice" in everything
    only = grace.get("/governance?user=erin").text
    members = section(only, "members-h")
    assert "erin" in members and "alice" not in members
    assert "alice" not in section(only, "by-user-h")
    by_project = grace.get("/governance?project=no-such-project").text
    assert "alice" not in section(by_project, "members-h")
    searched = grace.get("/governance?q=ERIN").text
    assert "erin" in section(searched, "members-h")
    assert "alice" not in section(searched, "members-h")


def test_a_suspended_user_is_told(env: tuple[Api, Harness]) -> None:
    _, h = env
    # A suspended user's session would be ended at once (issue 13): her login is refused
    # on the login page itself, with the notice, and no page of the TRE is shown.
    mallory = Pages(h.app)
    mallory.get("/login")
    r = mallory.post("/login", {"token": "mallory-dev-token", "next": "/mine"})
    assert r.status_code == 403 and 'id="login-refused"' in r.text
    assert "suspended" in r.text
    r = mallory.get("/mine")
    assert r.status_code == 303 and "/login" in r.headers["location"]
    assert 'id="access-notice"' not in Pages(h.app, "alice").get("/mine").text
