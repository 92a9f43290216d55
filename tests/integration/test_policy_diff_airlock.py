"""``tre policy diff`` replays the decisions the airlock really writes (issue 13).

Before, ``policy diff`` read a decision under ``details["decision"]`` or the top level,
while the airlock writes ``details["authz"]``: every airlock decision was skipped (and
still counted towards the replay limit), and the test fabricated an event shape no
writer used.  Here a real flow through the airlock's API writes the events.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.harness.airlock import api_env
from tests.hostile import png_bytes
from tre.authz.diff import audited_decisions, diff_policies, replay
from tre.authz.enforcer import Authz
from tre.authz.lint import read_policy_file
from tre.authz.settings import policy_settings
from tre.cli import app
from tre.settings import reset_settings

pytestmark = pytest.mark.integration

SEED = Path("policies/policy.csv").read_text()
PNG = png_bytes()  # a real image (fake ones are refused); escalates: a person must look at it


def airlock_flow(db_url: str, data_dir: Path) -> None:
    """alice: a draft, then its submission; carol approves; alice downloads; mallory (who
    is suspended) is refused."""
    with api_env(db_url, data_dir, stored_policy=True) as (api, _h):
        draft = api.submit("alice", [("plot.png", PNG)], extra={"draft": "true"})
        assert draft.status_code == 201, draft.text
        rid = draft.json()["id"]
        r = api.post("alice", f"/api/requests/{rid}/submit")
        assert r.status_code == 200, r.text
        req = api.request("alice", rid).json()
        assert req["state"] == "in_review"
        r = api.vote("carol", rid, req["files"][0]["id"], "approve")
        assert r.status_code == 200 and r.json()["state"] == "released", r.text
        assert api.bundle("alice", rid).status_code == 200
        assert api.request("mallory", rid).status_code == 404


def test_policy_diff_replays_every_airlock_decision(db_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    airlock_flow(db_url, tmp_path / "data")
    from tre.db import make_engine, session_factory

    factory: sessionmaker[Session] = session_factory(make_engine(db_url))
    with factory() as s:
        decisions = audited_decisions(s, 1000)
    asked = [(str(d["subject"]), str(d["object"]), str(d["action"]), bool(d["allowed"]))
             for _, d in decisions]
    # create (with the draft), submit (the draft's submission: its own record), carol's
    # review, alice's download, and mallory's refusal: in the order they were made.
    assert asked == [
        ("alice", "request", "create", True),
        ("alice", "request", "submit", True),
        ("carol", "request", "review", True),
        ("alice", "release", "download", True),
        ("mallory", "request", "read", False),
    ]
    settings = policy_settings()
    # The proposal: alice's membership ends before the flow, carol is no longer a checker.
    proposed = SEED.replace("g, alice, researcher, demo-project, 2025-01-01, 2099-01-01",
                            "g, alice, researcher, demo-project, 2025-01-01, 2026-01-01")
    proposed = "\n".join(line for line in proposed.splitlines()
                         if not line.startswith("g, carol, output_checker,")) + "\n"
    assert proposed != SEED
    path = tmp_path / "proposed.csv"
    path.write_text(proposed)
    current = Authz(read_policy_file(settings.seed_file), model=settings.model_file)
    new = Authz(read_policy_file(path), model=settings.model_file)
    diff = diff_policies(current, new, new.clock.now())
    replay(decisions, new, diff)
    assert diff.replayed == 5
    assert [(r.subject, r.obj, r.action, r.was, r.would_be) for r in diff.replay_changes] == [
        ("alice", "request", "create", True, False),
        ("alice", "request", "submit", True, False),
        ("carol", "request", "review", True, False),
        ("alice", "release", "download", True, False),
    ]
    # And the command people run says the same.
    monkeypatch.setenv("TRE_DATABASE_URL", db_url)
    reset_settings()
    result = CliRunner().invoke(app, ["policy", "diff", str(path), "--as", "grace"])
    assert result.exit_code == 0, result.output
    assert "replayed 5 audited decision(s): 4 would change" in result.stdout
    assert ": carol review request in demo-project: was allowed, would be denied" in (
        result.stdout)


def test_the_replay_limit_counts_only_events_with_decisions(db_url: str,
                                                           tmp_path: Path) -> None:
    airlock_flow(db_url, tmp_path / "data")
    from tre.db import make_engine, session_factory

    with session_factory(make_engine(db_url))() as s:
        last_two = audited_decisions(s, 2)
    assert [(d["subject"], d["action"]) for _, d in last_two] == [
        ("alice", "download"), ("mallory", "read")]
