"""Issue 14, finding 4: a conversation per request (both ways), and checkers' notes:
bounded, audited, blind before the quorum, notes never shown to the researcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app
from tests.harness.pages import Pages, TestClient
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data",
                     project_profiles={"demo-project": "strict"}) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def conversation(html: str) -> str:
    return html.split('id="conversation"')[1].split("</section>")[0]


def test_both_ways_notes_private_and_blind(strict: tuple[Api, Harness]) -> None:
    api, h = strict
    req = api.submit("alice", [("notes.md", b"# notes\n")]).json()
    rid = req["id"]
    alice, carol, dave = Pages(h.app, "alice"), Pages(h.app, "carol"), Pages(h.app, "dave")
    carol.get(f"/requests/{rid}")
    assert carol.post(f"/requests/{rid}/messages", {
        "body": "Which months does the table cover?", "audience": "all"}).status_code == 303
    assert carol.post(f"/requests/{rid}/messages", {
        "body": "I will approve once she answers.", "audience": "checkers"}).status_code == 303
    alice.get(f"/requests/{rid}")
    assert alice.post(f"/requests/{rid}/messages", {
        "body": "January to March 2024."}).status_code == 303
    theirs = conversation(alice.get(f"/requests/{rid}").text)
    assert "Which months" in theirs and "January to March" in theirs
    assert "I will approve" not in theirs and "note for checkers" not in theirs
    assert "note for checkers" not in alice.get(f"/requests/{rid}").text
    # a researcher cannot write a note, and nobody writes an unbounded message
    r = alice.post(f"/requests/{rid}/messages", {"body": "x", "audience": "checkers"})
    assert r.status_code == 422 and "written by a checker" in r.text
    r = carol.post(f"/requests/{rid}/messages", {"body": "y" * 5001})
    assert r.status_code == 422 and "5,001 characters long; at most 5,000" in r.text
    assert "y" * 5001 in r.text  # what was typed is kept
    r = carol.post(f"/requests/{rid}/messages", {"body": "a\x1b[2Jb"})
    assert r.status_code == 422 and "U+001B" in r.text
    # dave, the second reviewer, is blind to carol's words before the quorum
    blind = conversation(dave.get(f"/requests/{rid}").text)
    assert "Which months" not in blind and "I will approve" not in blind
    assert "January to March" in blind  # the researcher's answer is no vote
    assert blind.count("shown once the quorum is reached") == 2
    # a custodian reads the request, never writes in it
    cedric = Pages(h.app, "cedric")
    page = cedric.get(f"/requests/{rid}")
    assert page.status_code == 200 and 'id="message-form"' not in page.text
    assert "I will approve" in page.text  # not a voter, not the researcher: notes shown
    assert cedric.post(f"/requests/{rid}/messages", {"body": "hi"}).status_code == 403
    with transaction(h.ctx.db) as s:
        posted = [e.as_dict()["details"] for e in audit.iter_events(s)
                  if e.action == "airlock.message.post"]
    assert [d["audience"] for d in posted] == ["all", "checkers", "all"]
    assert posted[0]["body"] == "Which months does the table cover?"


def test_the_researchers_words_are_bounded_and_scanned(strict: tuple[Api, Harness]) -> None:
    """The researcher reads their own messages back outside the TRE (a browser session can
    be carried into a workspace), so what they write is free text like a file's context:
    scanned, and bounded per request, not only per message."""
    api, h = strict
    rid = api.submit("alice", [("notes.md", b"# notes\n")]).json()["id"]
    alice = Pages(h.app, "alice")
    alice.get(f"/requests/{rid}")
    r = alice.post(f"/requests/{rid}/messages", {"body": "Her NHS number is 943 476 5919."})
    assert r.status_code == 422 and "NHS number" in r.text
    part = "The table covers the first quarter of the year. " * 30  # ~1,470 characters
    for _ in range(2):
        assert alice.post(f"/requests/{rid}/messages", {"body": part}).status_code == 303
    r = alice.post(f"/requests/{rid}/messages", {"body": part})
    assert r.status_code == 422
    assert "characters, more than the 4,000" in r.text  # about 4,400 written
    with h.ctx.db() as s:
        posts = [e for e in audit.iter_events(s) if e.action == "airlock.message.post"]
    assert len(posts) == 2  # the refused ones are not stored
