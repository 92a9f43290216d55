"""The pages' forms: CSRF tokens, votes (blind, with comments and override reasons),
the requester's read-only view, resubmitting the safe alternative, withdrawing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from airlock.db.models import Request, Vote
from tests.harness.airlock import (
    WORKSPACE_ADDRESS,
    Api,
    Harness,
    airlock_app,
    failing_table,
    safe_table,
)
from tests.harness.pages import Pages, TestClient
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data",
                     project_profiles={"demo-project": "strict"}) as h, \
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


def escalated(api: Api, user: str = "alice") -> tuple[str, str]:
    r = api.submit(user, [("notes.md", b"# notes\n")])
    assert r.json()["state"] == "in_review", r.text
    return r.json()["id"], r.json()["files"][0]["id"]


def test_forms_need_the_csrf_token_of_this_session(env: tuple[Api, Harness]) -> None:
    api, h = env
    rid, fid = escalated(api)
    carol, dave = Pages(h.app, "carol"), Pages(h.app, "dave")
    carol.get(f"/requests/{rid}")
    vote = {"file_id": fid, "choice": "approve"}
    assert carol.post(f"/requests/{rid}/vote", vote, csrf=False).status_code == 403
    assert carol.post(f"/requests/{rid}/vote", {**vote, "csrf_token": "forged"}
                      ).status_code == 403
    dave.get(f"/requests/{rid}")
    assert carol.post(f"/requests/{rid}/vote", {**vote, "csrf_token": dave.csrf or ""}
                      ).status_code == 403  # another session's token
    cross = carol.post(f"/requests/{rid}/vote", vote, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    assert votes(h, rid) == 0
    # the JSON API cannot be driven by the browser session at all (it has no CSRF token)
    r = carol.client.post(f"/api/requests/{rid}/votes", json={"votes": [vote]})
    assert r.status_code == 401
    assert votes(h, rid) == 0
    ok = carol.post(f"/requests/{rid}/vote", vote)
    assert ok.status_code == 303 and votes(h, rid) == 1
    # logging in and out need the token too
    anon = Pages(h.app)
    anon.get("/login")
    assert anon.post("/login", {"token": "alice-dev-token"}, csrf=False).status_code == 403
    assert carol.post("/logout", csrf=False).status_code == 403
    assert carol.post("/logout").status_code == 200
    assert carol.get("/queue").status_code == 303  # logged out


def test_vote_needs_a_comment_except_approve(env: tuple[Api, Harness]) -> None:
    api, h = env
    rid, fid = escalated(api)
    carol = Pages(h.app, "carol")
    carol.get(f"/requests/{rid}")
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "reject",
                                             "comment": "  "})
    assert r.status_code == 422 and "needs a comment" in r.text
    assert 'value="reject" checked' in r.text  # what the checker chose is kept
    assert votes(h, rid) == 0
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "reject",
                                             "comment": "identifiable"})
    assert r.status_code == 303 and state(h, rid) == "rejected"
    page = carol.get(f"/requests/{rid}").text
    assert "rejected" in page and "identifiable" in page and 'class="vote stack"' not in page


def test_overriding_a_fail_needs_a_reason_and_is_audited(env: tuple[Api, Harness],
                                                         tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "context": "islands", "exception": "the clinic is public"}]).json()
    rid, fid = req["id"], req["files"][0]["id"]
    carol = Pages(h.app, "carol")
    carol.get(f"/requests/{rid}")
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve"})
    assert r.status_code == 422 and "override reason" in r.text and votes(h, rid) == 0
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve",
                                             "override_reason": "published by the ONS"})
    assert r.status_code == 303 and state(h, rid) == "released"
    with transaction(h.ctx.db) as s:
        actions = [e.action for e in audit.iter_events(s)]
    assert "airlock.vote.override" in actions


def test_votes_are_blind_until_the_quorum(strict: tuple[Api, Harness]) -> None:
    api, h = strict
    rid, fid = escalated(api)
    carol, dave = Pages(h.app, "carol"), Pages(h.app, "dave")
    carol.get(f"/requests/{rid}")
    secret = "the second column could identify a ward"
    assert carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "request_changes",
                                                "comment": secret}).status_code == 303
    mine = carol.get(f"/requests/{rid}").text
    assert secret in mine  # her own vote, in full
    theirs = dave.get(f"/requests/{rid}").text
    assert secret not in theirs and "<strong>request changes</strong>" not in theirs
    assert "hidden until the quorum is reached" in theirs
    assert "how is hidden until the quorum" in theirs  # the audit trail is blind too
    assert "airlock.vote.cast" not in theirs and "airlock.vote.override" not in theirs
    queue = dave.get("/queue").text
    assert "1 more reviewer needed" in queue and "carol" in queue
    alice = Pages(h.app, "alice").get("/mine").text
    assert secret not in alice
    assert dave.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve"}
                     ).status_code == 303
    assert state(h, rid) == "returned"
    after = dave.get(f"/requests/{rid}").text
    assert secret in after  # the quorum is reached: every vote is shown
    assert secret in Pages(h.app, "alice").get("/mine").text


def test_requester_sees_read_only_and_a_forged_vote_is_refused(env: tuple[Api, Harness]
                                                               ) -> None:
    api, h = env
    rid, fid = escalated(api, user="carol")  # carol: a checker, and a researcher here
    carol = Pages(h.app, "carol")
    page = carol.get(f"/requests/{rid}").text
    assert "You made this request" in page and 'class="vote stack"' not in page
    assert 'name="choice"' not in page
    r = carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve"})
    assert r.status_code == 403
    assert votes(h, rid) == 0 and state(h, rid) == "in_review"
    with transaction(h.ctx.db) as s:
        denied = [e for e in audit.iter_events(s) if e.action == "airlock.access.denied"]
    assert denied and denied[-1].actor == "carol"
    # in the queue she sees it as hers
    assert "yours: you cannot review it" in carol.get("/queue").text


def test_resubmit_the_safe_alternative_and_withdraw(env: tuple[Api, Harness],
                                                    tmp_path: Path) -> None:
    api, h = env
    rejected = api.submit_table("alice", failing_table(tmp_path)).json()
    alice = Pages(h.app, "alice")
    alice.get("/mine")
    assert alice.post(f"/requests/{rejected['id']}/resubmit", csrf=False).status_code == 403
    bob = Pages(h.app, "bob")
    bob.get("/mine")
    assert bob.post(f"/requests/{rejected['id']}/resubmit").status_code in (403, 404)
    r = alice.post(f"/requests/{rejected['id']}/resubmit")
    assert r.status_code == 303
    new_id = r.headers["location"].split("created=")[1]
    page = alice.get(r.headers["location"]).text
    assert f'id="rq-{new_id}"' in page and "rare.safe.csv" in page
    assert state(h, new_id) == "released"
    assert alice.post(f"/requests/{rejected['id']}/resubmit").status_code == 303  # again: fine
    draft = api.submit("alice", [("notes.md", b"# n\n")], extra={"draft": "true"}).json()
    alice.get("/mine")
    assert alice.post(f"/requests/{draft['id']}/withdraw").status_code == 303
    assert state(h, draft["id"]) == "withdrawn"
    assert alice.post(f"/requests/{draft['id']}/withdraw").status_code == 409


def test_download_from_the_page_session(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    released = api.submit_table("alice", safe_table(tmp_path)).json()
    alice = Pages(h.app, "alice")
    r = alice.get(f"/api/requests/{released['id']}/bundle")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    carol = Pages(h.app, "carol")
    assert carol.get(f"/api/requests/{released['id']}/bundle").status_code == 403


def test_a_policy_that_forbids_project_members_makes_the_page_read_only(
        env: tuple[Api, Harness], tmp_path: Path) -> None:
    from tests.harness import airlock as airlock_testing
    from tre.authz.lint import read_policy_file

    api, h = env
    rid, fid = escalated(api, user="alice")
    policy = airlock_testing.test_policy(tmp_path)
    # a project's own researchers may not review its requests (carol is one, and a checker)
    policy.write_text(policy.read_text() + "p, researcher, demo-project, request, review, deny\n")
    h.ctx.authz.replace(read_policy_file(policy))
    carol, dave = Pages(h.app, "carol"), Pages(h.app, "dave")
    page = carol.get(f"/requests/{rid}").text
    assert "The policy does not let you review this request" in page
    assert "researcher, demo-project, request, review, deny" in page
    assert 'class="vote stack"' not in page
    assert carol.post(f"/requests/{rid}/vote", {"file_id": fid, "choice": "approve"}
                      ).status_code == 403
    assert 'class="vote stack"' in dave.get(f"/requests/{rid}").text  # not a member: may
