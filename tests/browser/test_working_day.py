"""Issue 14 in a real browser: a checker's working day and a researcher's own request.

One test per finding addressed; each fails on the code before the issue.  Every state
is photographed at 1,400 and at 400 px wide (``test-output/screenshots/w-*``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from airlock.db.models import Vote
from tests.browser.conftest import Live, text_of
from tests.browser.outputs import png, small_and_dominated
from tests.browser.test_review_flow import shortcuts_on
from tests.harness.airlock import TOKENS


def both(b: Any, name: str) -> None:
    """Screenshots at 1,400 and 400 px wide, then back to 1,400."""
    b.page.set_viewport_size({"width": 1400, "height": 900})
    b.shot(f"w-{name}-1400")
    b.page.set_viewport_size({"width": 400, "height": 800})
    b.shot(f"w-{name}-400")
    b.page.set_viewport_size({"width": 1400, "height": 900})


def votes(live: Live, rid: str) -> int:
    with live.app.state.ctx.db() as s:
        return int(s.scalar(select(func.count()).select_from(Vote)
                            .where(Vote.request_id == rid)) or 0)


def _plot_and_notes(live: Live, title: str) -> dict[str, Any]:
    req = live.submit("alice", [("plot.png", png()), ("notes.md", b"# Methods\n")],
                      title=title, context="Admissions by month, for the annual report")
    assert req["state"] == "in_review", req
    return req


def test_finding_1_queue_to_triage_by(browse: Any, live: Live, tmp_path: Path) -> None:
    path, side = small_and_dominated(tmp_path)
    table = live.submit("alice", [(path.name, path.read_bytes())],
                        sidecars=[(side.name, side.read_bytes())], title="Cost of care",
                        manifest=[{"name": path.name, "context": "Cost by region and sex",
                                   "exception": "the island clinic is public"}])
    plots = _plot_and_notes(live, "Admissions plot")
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto("/queue")
    row = carol.page.locator("#queue tbody tr", has_text="Cost of care")
    assert "small or dominated cell" in text_of(row, "td.what")
    assert "exception asked" in text_of(row, "td.what") and path.name in text_of(row, "td")
    other = carol.page.locator("#queue tbody tr", has_text="Admissions plot")
    assert "plot.png, notes.md" in text_of(other, ".names")
    assert "type not checkable automatically" in text_of(other, "td.what")
    both(carol, "01-queue")
    carol.page.select_option("#reason-filter", "exception")
    carol.page.locator("form.filters button[type=submit]").click()
    carol.page.wait_for_load_state("load")
    assert carol.page.locator("#queue tbody tr").count() == 1
    # at 400 px the verdicts are on screen (rows become cards)
    carol.page.set_viewport_size({"width": 400, "height": 800})
    carol.goto("/queue")
    box = carol.page.locator("#queue td.verdicts").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 400
    carol.page.set_viewport_size({"width": 1400, "height": 900})
    live.api.post(f"/api/requests/{plots['id']}/votes", headers={
        "Authorization": "token carol-dev-token"}, json={"votes": [
            {"file_id": f["id"], "choice": "approve"} for f in plots["files"]]})
    carol.goto("/queue?tab=decided")
    carol.page.fill("#decided-q", "admissions")
    carol.page.locator("form.filters button[type=submit]").click()
    carol.page.wait_for_load_state("load")
    assert carol.page.locator("#decided tbody tr").count() == 1
    assert "released" in text_of(carol.page, "#decided")
    both(carol, "02-decided-search")
    del table


def test_finding_3_review_is_a_draft(browse: Any, live: Live) -> None:
    req = _plot_and_notes(live, "Draft review")
    rid = req["id"]
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto(f"/requests/{rid}")
    page = carol.page
    page.locator("#file-1 input[value=approve]").check()
    page.locator("#file-2 input[value=reject]").check()
    page.locator("#file-2 textarea").fill("The methods name the ward.")
    page.locator("#submit-review-button").click()
    page.wait_for_load_state("load")
    summary = text_of(page, "#review-summary")
    assert "Rejecting notes.md rejects the whole request, including plot.png" in summary
    assert "This rejects the request at once." in summary
    assert votes(live, rid) == 0  # nothing recorded before the confirmation
    both(carol, "03-review-summary")
    page.locator("#file-2 input[value=request_changes]").check()  # edited in the draft
    page.locator("#confirm-review").click()
    page.wait_for_load_state("load")
    assert votes(live, rid) == 2 and "returned" in text_of(page, "h1")
    assert page.locator("#reviewed").count() == 1
    assert page.locator(".badge.voted").count() >= 2
    both(carol, "04-review-recorded")
    page.locator("#next-request").click()
    page.wait_for_load_state("load")
    assert "/queue" in page.url or "/requests/" in page.url


def test_finding_6_the_researcher_sees_their_request(browse: Any, live: Live,
                                                   tmp_path: Path) -> None:
    # A rejected request's content is shown only inside the workspace (issue 10); one a
    # checker returned for changes is what the researcher reads in her browser.
    path, side = small_and_dominated(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())], title="Returned table",
                      manifest=[{"name": path.name, "exception": "the clinic is public"}])
    assert req["state"] == "in_review"
    r = live.api.post(f"/api/requests/{req['id']}/votes", headers={
        "Authorization": "token carol-dev-token"}, json={"votes": [
            {"file_id": req["files"][0]["id"], "choice": "request_changes",
             "comment": "Please suppress the small cells."}]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    alice = browse("alice", viewport={"width": 1400, "height": 900})
    alice.goto(f"/requests/{req['id']}")
    page = alice.page
    assert page.locator("td.flag").count() >= 1  # the flags on the cells
    assert "not a cell of the table as shown" not in text_of(page, "main")
    assert page.locator("#readonly").count() == 0
    assert page.locator(".pane.alt td.suppressed").count() >= 1  # before accepting
    assert page.locator("#accept-button").count() == 1
    both(alice, "05-own-request")


def test_finding_8_expired_session_keeps_the_comment(browse: Any, live: Live,
                                                     chromium: Any) -> None:
    req = _plot_and_notes(live, "Expiring session")
    rid = req["id"]
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto(f"/requests/{rid}")
    page = carol.page
    comment = "A comment typed over lunch, while the session ran out."
    page.locator("#file-2 input[value=reject]").check()
    page.locator("#file-2 textarea").fill(comment)
    carol.context.clear_cookies()  # the session expires
    page.locator("#submit-review-button").click()
    page.wait_for_load_state("load")
    assert "/login" in page.url and "detail" not in page.content()
    token = next(t for t, u in TOKENS.items() if u == "carol")
    page.fill("#token", token)
    page.click("main button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/requests/{rid}")
    assert page.locator("#file-2 textarea").input_value() == comment
    assert page.locator("#file-2-comment-restored").is_visible()
    both(carol, "06-comment-restored")
    carol.goto("/no/such/page")
    assert page.locator("h1").inner_text() == "Not found" and "{" not in text_of(page, "main")
    both(carol, "07-not-found")
    # Chromium logs every 404 document as a console error: this one is the test's own.
    carol.errors[:] = [e for e in carol.errors if "/no/such/page" not in e]


def test_finding_9_shortcuts_off_until_turned_on(browse: Any, live: Live) -> None:
    req = _plot_and_notes(live, "Shortcuts")
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto(f"/requests/{req['id']}")
    page = carol.page
    page.locator("body").press("a")
    assert not page.locator("input[value=approve]").first.is_checked()  # off: nothing
    shortcuts_on(page)
    page.reload()
    page.wait_for_load_state("load")
    assert page.locator("button.keys-toggle").get_attribute("aria-pressed") == "true"
    page.locator("body").press("j")
    page.keyboard.press("a")
    assert page.locator("#file-1 input[value=approve]").is_checked()
    page.locator("header a.brand").focus()
    colour = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    assert colour == "rgb(255, 255, 255)"  # the focus ring on the dark header
    both(carol, "08-shortcuts-on")


def test_finding_2_large_tables_keep_their_labels(browse: Any, live: Live,
                                                  tmp_path: Path) -> None:
    path, side = small_and_dominated(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())],
                      manifest=[{"name": path.name, "context": "cost by region",
                                 "exception": "please look"}])
    dave = browse("dave", viewport={"width": 400, "height": 800})
    dave.goto(f"/requests/{req['id']}")
    page = dave.page
    original = page.locator(".side-by-side > .pane:not(.alt):not(.earlier) .grid-wrap")
    alt = page.locator(".pane.alt .grid-wrap")
    assert page.locator("table.grid tbody th").first.evaluate(
        "th => getComputedStyle(th).position") == "sticky"
    original.evaluate("el => { el.scrollLeft = 120; el.scrollTop = 30; }")
    page.wait_for_function(
        "() => document.querySelector('.pane.alt .grid-wrap').scrollLeft > 0")
    assert alt.evaluate("el => el.scrollLeft") == original.evaluate("el => el.scrollLeft")
    # a flag's link puts the cell in view with its row label beside it
    page.locator("ol.flags a").first.click()
    cell_id = page.evaluate("document.activeElement.id")
    assert cell_id.startswith("file-1-r")
    first_line = str(page.evaluate("document.activeElement.title")).split("\n")[0]
    rule, why = first_line.split(": ", 1)
    shown = text_of(page, ".cell-info")  # explained beside it
    assert rule in shown and why in shown
    both(dave, "09-large-table-linked")


def test_finding_2_the_flag_list_beside_the_grid_explains_the_selected_cell(
        browse: Any, live: Live, tmp_path: Path) -> None:
    """Before: the flags were a table above the grid and the explanation a line above
    it; a flag's link scrolled the page so the column header went out of view."""
    path, side = small_and_dominated(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())],
                      manifest=[{"name": path.name, "context": "cost by region"}])
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto(f"/requests/{req['id']}")
    page = carol.page
    box = page.locator(".with-flags").first
    grid = box.locator(".side-by-side").bounding_box()
    aside = box.locator("aside.flag-aside").bounding_box()
    info = box.locator(".cell-info").bounding_box()
    assert grid and aside and info
    # beside the grid, not above or below it; the explanation above the list
    assert aside["x"] >= grid["x"] + grid["width"] and aside["y"] < grid["y"] + grid["height"]
    assert info["x"] >= grid["x"] + grid["width"] and info["y"] < aside["y"]
    page.locator("#file-1").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    link = box.locator("ol.flags a").first
    where = link.inner_text()
    link.click()
    cell = page.evaluate("document.activeElement.id")
    assert cell.startswith("file-1-r")
    assert page.evaluate("window.scrollY") == before  # only the pane moved
    # the cell and its column header are both in view
    header_visible = page.evaluate("""id => {
        const td = document.getElementById(id), tr = td.parentElement;
        const col = Array.from(tr.children).indexOf(td);
        const th = td.closest('table').querySelector('thead tr:last-child').children[col];
        const r = td.getBoundingClientRect(), h = th.getBoundingClientRect();
        const w = td.closest('.grid-wrap').getBoundingClientRect();
        return h.top >= Math.max(0, w.top) - 1 && h.bottom <= r.top + 1 &&
               r.bottom <= Math.min(window.innerHeight, w.bottom) + 1 && r.top >= 0; }""", cell)
    assert header_visible
    explained = text_of(page, ".with-flags .cell-info")
    entry = page.locator(f"ol.flags li[data-cell='{cell}']").first
    assert where in explained and text_of(entry, ".flag-rule") in explained
    assert "selected" in str(entry.get_attribute("class"))
    both(carol, "11-flag-aside-selected")
    # keyboard: Tab to another flagged cell explains it; a click on a plain cell says so
    page.keyboard.press("Tab")
    other = page.evaluate("document.activeElement.id")
    if other.startswith("file-1-r"):
        assert text_of(page, ".with-flags .cell-info") != explained
    page.locator(".pane:not(.alt):not(.earlier) table.grid td:not(.flag)").first.click()
    assert "not flagged" in text_of(page, ".with-flags .cell-info")
    # at 400 px: one column, the explanation before the grid, the list after it
    page.set_viewport_size({"width": 400, "height": 800})
    grid = box.locator(".side-by-side").bounding_box()
    aside = box.locator("aside.flag-aside").bounding_box()
    info = box.locator(".cell-info").bounding_box()
    assert grid and aside and info
    assert info["y"] < grid["y"] and aside["y"] >= grid["y"] + grid["height"]
    carol.shot("w-11-flag-aside-400")


def test_finding_4_a_conversation_both_ways(browse: Any, live: Live) -> None:
    req = _plot_and_notes(live, "Conversation")
    rid = req["id"]
    carol = browse("carol", viewport={"width": 1400, "height": 900})
    carol.goto(f"/requests/{rid}")
    carol.page.fill("#message-body", "Which months does the plot cover?")
    carol.page.click("#message-send")
    carol.page.wait_for_load_state("load")
    carol.page.fill("#message-body", "Ask the data team if unsure.")
    carol.page.check("#message-form input[value=checkers]")
    carol.page.click("#message-send")
    carol.page.wait_for_load_state("load")
    assert "note for checkers" in text_of(carol.page, "#conversation")
    both(carol, "10-conversation-checker")
    alice = browse("alice", viewport={"width": 1400, "height": 900})
    alice.goto(f"/requests/{rid}")
    assert "Which months" in text_of(alice.page, "#conversation")
    assert "data team" not in text_of(alice.page, "main")
    alice.page.fill("#message-body", "January to March 2024.")
    alice.page.click("#message-send")
    alice.page.wait_for_load_state("load")
    assert "January to March 2024." in text_of(alice.page, "#conversation")
    both(alice, "11-conversation-researcher")
