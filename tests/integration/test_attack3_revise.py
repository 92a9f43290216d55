"""Attack on the revise route: ``answer`` is free text written *inside* the workspace
(the revise call is refused from outside) that lands in the request's conversation.
A revision that passes every check was released automatically, its answer read by no
person, and the conversation of a released request is shown to the requester's
browser, outside the TRE: 4,000 characters per revision out of the TRE unread.  The
answer is addressed to the checkers, so a revision with one goes to a person."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.outputs import png
from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app, safe_table
from tests.harness.pages import Pages
from tre.workspace.airlock_client import Client

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness, Client]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        ws = Client(url=str(client.base_url), token="alice-dev-token",
                    transport=client._transport)
        yield Api(client), h, ws
        ws.close()


def test_a_revision_with_an_answer_is_read_by_a_person(
        env: tuple[Api, Harness, Client], tmp_path: Path) -> None:
    api, h, ws = env
    table, side = safe_table(tmp_path)
    r = api.submit("alice", [(table.name, table.read_bytes()), ("plot.png", png())],
                   sidecars=[(side.name, side.read_bytes())])
    assert r.status_code == 201 and r.json()["state"] == "in_review", r.text
    req = r.json()
    for f in req["files"]:
        assert api.vote("carol", req["id"], f["id"], "request_changes",
                        comment="drop the plot").status_code == 200
    # the table alone passes every check: without an answer it may be released at once
    answer = "Dropped the plot as asked. " + "The table is by region and sex. " * 20
    new = ws.revise(req["id"], [], remove=["plot.png"], answer=answer)
    page = Pages(h.app, "alice").get(f"/requests/{new['id']}").text  # alice's browser
    if new["state"] == "released":
        assert "The table is by region and sex" not in page, \
            "the answer reached the requester's browser unread"
    assert new["state"] == "in_review"
