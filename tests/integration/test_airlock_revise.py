"""Issue 14, finding 5: a returned request is revised in place (files replaced, added,
removed; the checkers answered) from inside a workspace, and re-checked as new.  The
request-wide limits hold for the request as revised (an attacker's revision grew a
request past them).  Fails on the old code: there was no /revise route, client or CLI."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from airlock.db.models import Message, Request
from tests.browser.outputs import png
from tests.harness.airlock import WORKSPACE_ADDRESS, Api, Harness, airlock_app, auth
from tests.harness.pages import Pages
from tre import audit
from tre.workspace.airlock_client import AirlockError, Client

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness, Client]]:
    with airlock_app(db_url, tmp_path / "data", max_files=3,
                     max_request_text_chars=400) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        # the researcher's own client, through the app's test transport (from a workspace)
        ws = Client(url=str(client.base_url), token="alice-dev-token",
                    transport=client._transport)
        yield Api(client), h, ws
        ws.close()


def returned(api: Api, files: list[tuple[str, bytes]] | None = None,
             context: str = "plots and notes for paper 1") -> dict[str, Any]:
    files = files or [("plot.png", png()), ("notes.md", b"# notes\nward 7\n")]
    r = api.submit("alice", files, context=context)
    assert r.status_code == 201 and r.json()["state"] == "in_review", r.text
    req = r.json()
    for f in req["files"]:
        v = api.vote("carol", req["id"], f["id"], "request_changes",
                     comment=f"please change {f['name']}")
        assert v.status_code == 200, v.text
    got = api.request("alice", req["id"]).json()
    assert got["state"] == "returned"
    return got  # type: ignore[no-any-return]


def state(h: Harness, rid: str) -> str:
    with h.ctx.db() as s:
        req = s.get(Request, rid)
        assert req is not None
        return req.state


def events(h: Harness) -> list[dict[str, Any]]:
    with h.ctx.db() as s:
        return [e.as_dict() for e in audit.iter_events(s)]


def test_replace_remove_add_and_answer(env: tuple[Api, Harness, Client],
                                       tmp_path: Path) -> None:
    api, h, ws = env
    old = returned(api)
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"# notes\nno ward named\n")
    extra = tmp_path / "method.md"
    extra.write_bytes(b"# method\nlogistic regression\n")
    new = ws.revise(old["id"], [notes, extra], remove=["plot.png"],
                    answer="The ward is gone; the plot was not needed.",
                    context="how the model was fitted")
    assert new["state"] == "in_review" and new["derived_from"] == old["id"]
    assert [f["name"] for f in new["files"]] == ["notes.md", "method.md"]
    by_name = {f["name"]: f for f in new["files"]}
    assert by_name["notes.md"]["sha256"] == hashlib.sha256(notes.read_bytes()).hexdigest()
    # the given context applies to the uploaded files; checked as new (fresh checks)
    assert by_name["method.md"]["context"] == "how the model was fitted"
    assert all(f["checks"] for f in new["files"])
    assert state(h, old["id"]) == "withdrawn"
    evs = events(h)
    revise = [e for e in evs if e["action"] == "airlock.request.revise"]
    assert len(revise) == 1 and revise[0]["object_id"] == old["id"]
    d = revise[0]["details"]
    assert (d["revision"], d["replaced"], d["removed"], d["added"], d["kept"]) == (
        new["id"], ["notes.md"], ["plot.png"], ["method.md"], [])
    # created, withdrawn and revised together: consecutive events of one transaction
    seqs = {e["action"]: e["seq"] for e in evs if e["object_id"] in (old["id"], new["id"])}
    withdrawn = [e for e in evs if e["action"] == "airlock.request.transition"
                 and e["object_id"] == old["id"] and e["details"]["to"] == "withdrawn"]
    assert len(withdrawn) == 1 and withdrawn[0]["details"]["replaced_by"] == new["id"]
    assert seqs["airlock.request.revise"] == withdrawn[0]["seq"] + 1
    with h.ctx.db() as s:
        msgs = list(s.scalars(select(Message).where(Message.request_id == new["id"])))
    assert [(m.author, m.audience, m.body) for m in msgs] == [
        ("alice", "all", "The ward is gone; the plot was not needed.")]
    # the checker reads the answer on the new request
    page = Pages(h.app, "carol").get(f"/requests/{new['id']}").text
    assert "The ward is gone" in page and f'/requests/{old["id"]}' in page


def test_a_replacement_keeps_its_context_and_kept_files_stay(
        env: tuple[Api, Harness, Client], tmp_path: Path) -> None:
    api, _, ws = env
    old = returned(api, context="figures of paper 1")
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"# notes\nrevised\n")
    new = ws.revise(old["id"], [notes])
    assert [f["name"] for f in new["files"]] == ["plot.png", "notes.md"]
    assert all(f["context"] == "figures of paper 1" for f in new["files"])
    assert new["files"][0]["sha256"] == old["files"][0]["sha256"]  # kept as it was


def test_refused_from_outside_the_workspace(env: tuple[Api, Harness, Client]) -> None:
    api, h, _ = env
    old = returned(api)
    with TestClient(h.app) as outside:  # a browser's or laptop's address
        r = outside.post(f"/api/requests/{old['id']}/revise", headers=auth("alice"),
                         files=[("remove", (None, '["plot.png"]', None))])
    assert r.status_code == 403 and r.json()["code"] == "outside_workspace"
    assert "inside a workspace" in r.json()["detail"]
    assert state(h, old["id"]) == "returned"
    denied = [e for e in events(h) if e["action"] == "airlock.access.denied"
              and e["object_id"] == old["id"]]
    assert denied and denied[-1]["details"]["action"] == "revise"


def test_only_the_requester_and_only_a_returned_request(
        env: tuple[Api, Harness, Client]) -> None:
    api, h, ws = env
    old = returned(api)
    r = api.post("bob", f"/api/requests/{old['id']}/revise",
                 files=[("remove", (None, '["plot.png"]', None))])
    assert r.status_code in (403, 404)
    waiting = api.submit("alice", [("n.md", b"# n\n")]).json()
    with pytest.raises(AirlockError) as exc:
        ws.revise(waiting["id"], remove=["n.md"])
    assert exc.value.status == 409 and "only a returned request" in str(exc.value)
    with pytest.raises(AirlockError) as exc:
        ws.revise(old["id"], remove=["nope.csv"])
    assert exc.value.status == 422 and "not a file of this request" in str(exc.value)
    with pytest.raises(AirlockError) as exc:
        ws.revise(old["id"], remove=["plot.png", "notes.md"])
    assert exc.value.status == 422 and "no file" in str(exc.value)
    assert state(h, old["id"]) == "returned"


def test_the_limits_hold_for_the_request_as_revised(
        env: tuple[Api, Harness, Client], tmp_path: Path) -> None:
    """max_files=3 and max_request_text_chars=400 (the fixture): each upload is within
    them on its own; the request it makes is not."""
    api, h, ws = env
    shared = ("Counts of admissions by month and region for the cohort of paper 1, made "
              "with statbarn from the admissions table; every cell is a number of people, "
              "and months with fewer than ten admissions were merged with the next one. "
              "The notes say how the cohort was drawn and which codes were used for it.")
    assert 250 < len(shared) < 400
    old = returned(api, [("a.md", b"# a\n"), ("b.md", b"# b\n"), ("c.md", b"# c\n")],
                   context=shared)
    d = tmp_path / "d.md"
    d.write_bytes(b"# d\n")
    with pytest.raises(AirlockError) as exc:
        ws.revise(old["id"], [d], context="notes on d")  # one file added to three
    assert exc.value.status == 413 and "would hold 4 files; at most 3" in str(exc.value)
    c = tmp_path / "c.md"
    c.write_bytes(b"# c, revised\n")
    own = ("The revised notes: the cohort is drawn from the first admission of each "
           "person in 2023, and the codes are listed in the appendix of paper 1.")
    assert len(own) < 400 < len(shared) + len(own)  # the upload alone is within the limit
    with pytest.raises(AirlockError) as exc:
        ws.revise(old["id"], [c], contexts={str(c): own})
    assert exc.value.status == 422 and exc.value.code == "text_too_long"
    assert "at most 400" in str(exc.value)
    assert state(h, old["id"]) == "returned"


def test_the_byte_limit_holds_for_the_request_as_revised(db_url: str, tmp_path: Path) -> None:
    text = b"# notes\n" + b"The cohort is every first admission in 2023. " * 6  # 284 bytes
    with airlock_app(db_url, tmp_path / "data", max_request_bytes=700,
                     max_file_bytes=400) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        api = Api(client)
        old = returned(api, [("a.md", text), ("b.md", text)])  # 568 bytes: within 700
        c = tmp_path / "c.md"
        c.write_bytes(text)  # the upload alone: 284 bytes
        ws = Client(url=str(client.base_url), token="alice-dev-token",
                    transport=client._transport)
        with pytest.raises(AirlockError) as exc:
            ws.revise(old["id"], [c], context="notes on c")
        assert exc.value.status == 413 and "larger than the limit" in str(exc.value)
        assert "as revised" in str(exc.value)
        ws.revise(old["id"], [c], remove=["b.md"], context="notes on c")  # 568: taken
        assert state(h, old["id"]) == "withdrawn"


def test_the_researcher_is_shown_the_command(env: tuple[Api, Harness, Client]) -> None:
    api, h, _ = env
    old = returned(api)
    page = Pages(h.app, "alice").get(f"/requests/{old['id']}").text
    section = page.split('id="revise"')[1].split("</section>")[0]
    assert f"tre airlock revise {old['id']}" in section
    assert "airlock.revise(" in section
    # a checker is not offered it
    assert 'id="revise"' not in Pages(h.app, "carol").get(f"/requests/{old['id']}").text


def test_the_checker_is_told_a_request_is_decided_as_a_whole(
        env: tuple[Api, Harness, Client]) -> None:
    """Per-file outcomes (finding 3): the choice is said where the checker decides, before
    any choice is made (fails on the old code: only the summary said it)."""
    api, h, _ = env
    rid = api.submit("alice", [("plot.png", png()), ("notes.md", b"# n\n")]).json()["id"]
    page = Pages(h.app, "carol").get(f"/requests/{rid}").text
    note = page.split('id="whole-request"')[1].split("</p>")[0]
    assert "decided as a whole" in note and "Request changes" in note
    assert 'id="whole-request"' not in Pages(h.app, "alice").get(f"/requests/{rid}").text


def test_the_cli(env: tuple[Api, Harness, Client], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    api, h, ws = env
    old = returned(api)
    import tre.workspace.airlock_client as client_mod
    from tre.cli import app

    monkeypatch.setattr(client_mod, "Client", lambda *a, **k: ws)  # the app's test transport
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"# notes\nfixed\n")
    out = CliRunner().invoke(app, ["airlock", "revise", old["id"], str(notes), "--remove",
                                   "plot.png", "--answer", "fixed"])
    assert out.exit_code == 0, out.output
    assert "in_review" in out.output and "notes.md" in out.output
    assert state(h, old["id"]) == "withdrawn"
