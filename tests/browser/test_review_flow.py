"""The review flow in a real browser, as the review UI issue describes it.

1. alice submits a table with one small cell and one dominated cell (asking for
   a review despite the fail); carol logs in, finds it in the queue, sees exactly
   those two cells highlighted with their reasons, and requests changes with a
   comment, from the keyboard; alice sees the comment and accepts the safe
   alternative in one click.
2. A request under the strict profile (two reviewers) is approved by carol and
   dave, each blind to the other's vote, and alice downloads the release.
3. carol cannot vote on her own request: no vote buttons, and a forged POST
   (with a valid CSRF token) is refused and changes nothing.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from airlock.db.models import Vote
from tests.browser.conftest import TRIAL, Live, cell_ids, text_of
from tests.browser.outputs import DOMINATED, SMALL, png, safe_counts, small_and_dominated

COMMENT = "Please suppress the Islands cell and the North/M total before release."


def submit_review(page: Any) -> None:
    """Issue 14: a review is a draft until submitted, and confirmed after its summary."""
    page.locator("#submit-review-button").click()
    page.wait_for_load_state("load")
    assert page.locator("#review-summary").count() == 1
    page.locator("#confirm-review").click()
    page.wait_for_load_state("load")


def shortcuts_on(page: Any) -> None:
    """The single-key shortcuts are off until turned on (issue 14, WCAG 2.1.4)."""
    toggle = page.locator("button.keys-toggle").first
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()


def _request_in_review(live: Live, tmp_path: Path) -> dict[str, Any]:
    path, side = small_and_dominated(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())],
                      context="Total cost of care by region and sex, 2024",
                      manifest=[{"name": path.name,
                                 "context": "Total cost of care by region and sex, 2024",
                                 "exception": "Please look: the island clinic is public"}])
    assert req["state"] == "in_review", req
    return req


def test_changes_requested_then_safe_alternative(browse: Any, live: Live,
                                                 tmp_path: Path) -> None:
    req = _request_in_review(live, tmp_path)
    rid = req["id"]

    carol = browse("carol")
    carol.goto("/queue")
    carol.shot("01-queue")
    assert "waiting for review" in text_of(carol.page, "#waiting")
    row = carol.page.locator(f'a[href$="/requests/{rid}"]')
    assert row.count() == 1
    row.click()
    carol.page.wait_for_load_state("load")
    page = carol.page

    # exactly the small and the dominated cell are highlighted, each with its reason
    flagged = page.locator("td.flag")
    assert flagged.count() == 2
    titles = {text_of(page, f"#{i}"): page.locator(f"#{i}").get_attribute("title")
              for i in cell_ids(page)}
    assert all(titles.values())
    rows_cols = page.eval_on_selector_all(
        "td.flag", """els => els.map(td => {
            const tr = td.parentElement, table = td.closest('table');
            const col = Array.from(tr.children).indexOf(td);
            return [tr.querySelector('th').textContent,
                    table.querySelector('thead tr').children[col].textContent];
        })""")
    assert {tuple(x) for x in rows_cols} == {SMALL, DOMINATED}
    small_title = page.locator("td.flag.fail").filter(has_text="360").get_attribute("title")
    assert small_title and "3 contributor" in small_title
    flags = text_of(page, "ol.flags")
    assert "Minimum number of contributors" in flags and "Dominance (N, K rule)" in flags
    assert "p% rule" in flags and "Islands, F" in flags and "North, M" in flags
    # the safe alternative, side by side, with the suppressed cells hatched
    assert page.locator(".pane.alt td.suppressed").count() >= 2
    carol.shot("02-request-flagged")

    # keyboard: j to the file, j to its first flagged cell (the reasons shown beside
    # the table), j to the next, k back; c to request changes, then type the comment
    shortcuts_on(page)
    page.locator("body").press("j")
    assert page.evaluate("document.activeElement.id") == "file-1"
    page.keyboard.press("j")
    first = page.evaluate("document.activeElement.id")
    page.keyboard.press("j")
    second = page.evaluate("document.activeElement.id")
    assert {first, second} == cell_ids(page)
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.id") == first
    assert "contributor" in text_of(page, ".cell-info")
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.name").startswith("comment:")
    assert page.locator('input[value="request_changes"]').is_checked()
    page.keyboard.type(COMMENT)
    carol.shot("03-request-voting")
    submit_review(page)
    assert "returned" in text_of(page, "h1")
    carol.shot("04-request-returned")

    alice = browse("alice")
    alice.goto("/mine")
    card = alice.page.locator(f"#rq-{rid}")
    assert COMMENT in text_of(alice.page, f"#rq-{rid} .comments")
    alice.shot("05-mine-returned")
    card.locator("button", has_text="Accept the safe alternative").click()
    alice.page.wait_for_load_state("load")
    assert alice.page.locator("#created").count() == 1
    new_id = alice.page.url.split("created=")[1]
    assert new_id != rid
    new_card = alice.page.locator(f"#rq-{new_id}")
    assert "released" in text_of(alice.page, f"#rq-{new_id} h2")  # suppressed: passes
    assert "withdrawn" in text_of(alice.page, f"#rq-{rid} h2")  # the returned one
    assert new_card.locator("a", has_text="Download").count() == 1
    alice.shot("06-mine-resubmitted")


def test_two_checkers_approve_and_the_researcher_downloads(browse: Any, live: Live,
                                                           tmp_path: Path) -> None:
    path, side = safe_counts(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())], project=TRIAL)
    assert req["state"] == "in_review"  # strict: no automatic release
    rid = req["id"]

    carol = browse("carol")
    carol.goto(f"/requests/{rid}")
    assert "2 reviewers must vote" in text_of(carol.page, "#review")
    shortcuts_on(carol.page)
    carol.page.locator("body").press("a")
    submit_review(carol.page)
    assert "in review" in text_of(carol.page, "h1")

    dave = browse("dave")
    dave.goto(f"/queue?project={TRIAL}")
    assert "1 more reviewer needed" in text_of(dave.page, "#queue")
    dave.goto(f"/requests/{rid}")
    votes = text_of(dave.page, "ul.votes")
    assert "carol" in votes and "hidden until the quorum" in votes and "approve" not in votes
    assert "carol" in text_of(dave.page, "#voters")
    history = text_of(dave.page, "table.history")
    assert "how is hidden" in history and "approve" not in history
    dave.shot("07-request-second-reviewer-blind")
    dave.page.check('input[value="approve"]')
    submit_review(dave.page)
    assert "released" in text_of(dave.page, "h1")
    assert "approve" in text_of(dave.page, "ul.votes")  # the quorum unblinds
    dave.shot("08-request-released")

    alice = browse("alice")
    alice.goto("/mine")
    with alice.page.expect_download() as info:
        alice.page.locator(f"#rq-{rid} a", has_text="Download").click()
    saved = tmp_path / "bundle.zip"
    info.value.save_as(saved)
    names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
    assert f"files/{path.name}" in names and "record.json" in names
    alice.shot("09-mine-released")


def test_a_checker_cannot_vote_on_their_own_request(browse: Any, live: Live) -> None:
    # carol is an output checker and also a researcher of demo-project
    req = live.submit("carol", [("chart.png", png())], context="A chart of admissions")
    rid, fid = req["id"], req["files"][0]["id"]
    carol = browse("carol")
    carol.goto(f"/requests/{rid}")
    assert carol.page.locator(".vote").count() == 0
    assert carol.page.locator('input[name^="choice"]').count() == 0
    assert "You made this request" in text_of(carol.page, "#readonly")
    carol.shot("10-own-request-read-only")
    forged = carol.context.request.post(
        f"{live.url}/requests/{rid}/vote",
        form={"csrf_token": carol.csrf(), "file_id": fid, "choice": "approve"})
    assert forged.status == 403
    api = live.api.post(f"/api/requests/{rid}/votes",
                        json={"votes": [{"file_id": fid, "choice": "approve"}]},
                        headers={"Authorization": "token carol-dev-token"})
    assert api.status_code == 403
    with live.app.state.ctx.db() as s:
        assert s.scalar(select(func.count()).select_from(Vote)
                        .where(Vote.request_id == rid)) == 0
    # dave can: the image is shown inline from the airlock's own origin
    dave = browse("dave")
    dave.goto(f"/requests/{rid}")
    assert dave.page.locator(".vote").count() == 1
    assert dave.page.locator("img.output").evaluate("img => img.naturalWidth") == 24
    dave.shot("11-image-request")
