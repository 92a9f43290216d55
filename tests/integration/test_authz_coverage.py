"""Every (object, action) of the vocabulary is asked somewhere (issue 13).

A word of the policy that tre never asks is a rule that can never matter, and a
governance team reading ``policy.csv`` would believe it does.  Two proofs:

* statically: every call that asks the authorisation point with literal words
  (``enforce``, ``check``, ``user_can``, ``in_general``, the airlock's ``require`` /
  ``decide``, governance ``Requirement``s, the audit commands' ``_allowed``), found in
  the source; every pair of the vocabulary must be among them;
* at run time: the enforcer is instrumented while the airlock's API and pages and the
  ``tre`` commands run for real; every pair is asked, except the two that only the
  JupyterHub spawner asks (tests/e2e, with Docker), which the static proof covers.
"""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.hostile import png_bytes
from tre.authz.enforcer import Authz, Decision
from tre.authz.vocabulary import all_actions
from tre.settings import reset_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ASKERS = {"enforce", "check", "user_can", "in_general", "require", "decide", "Requirement"}
HUB_ONLY = {("workspace", "spawn"), ("dataset", "read")}  # the spawner (workspaces/spawner.py)
PNG = png_bytes()  # a real image (fake ones are refused)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def asked_in_source() -> dict[tuple[str, str], list[str]]:
    known = set(all_actions())
    found: dict[tuple[str, str], list[str]] = {}
    for folder in ("airlock", "tre", "workspaces"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name == "vocabulary.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = _name(node.func)
                words = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str)
                         else None for a in node.args]
                pairs = list(itertools.pairwise(words))
                if name == "_allowed":  # tre audit ...: the object is "audit"
                    pairs = [("audit", w) for w in words]
                elif name not in ASKERS:
                    continue
                for pair in pairs:
                    if pair in known:
                        where = f"{path.relative_to(REPO)}:{node.lineno}"
                        found.setdefault(pair, []).append(where)
    return found


def test_every_pair_of_the_vocabulary_is_asked_in_the_source() -> None:
    found = asked_in_source()
    missing = sorted(set(all_actions()) - set(found))
    assert missing == [], f"never asked: {missing}"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    original = Authz.enforce

    def recording(self: Authz, subject: str, domain: str, obj: str, action: str,
                  *args: Any, **kw: Any) -> Decision:
        seen.add((obj, action))
        return original(self, subject, domain, obj, action, *args, **kw)

    monkeypatch.setattr(Authz, "enforce", recording)
    return seen


def _airlock(url: str, data: Path) -> None:
    from tests.harness.airlock import api_env
    from tests.harness.pages import Pages

    with api_env(url, data, stored_policy=True) as (api, h):
        req = api.submit("alice", [("plot.png", PNG)]).json()  # create, submit
        fid = req["files"][0]["id"]
        assert api.get("carol", f"/api/requests/{req['id']}/files/{fid}/content"
                       ).status_code == 200  # review (preview)
        assert api.vote("carol", req["id"], fid, "approve").status_code == 200
        assert api.bundle("alice", req["id"]).status_code == 200  # release download
        assert api.request("mallory", req["id"]).status_code == 404  # refused (audited)
        draft = api.submit("alice", [("plot.png", PNG)], extra={"draft": "true"}).json()
        assert api.post("alice", f"/api/requests/{draft['id']}/withdraw").status_code == 200
        assert api.get("carol", "/api/requests?scope=queue").status_code == 200  # queue read
        failing = api.submit("bob", [("t.csv", b"a,b\n1,2\n")])  # fails: no evidence
        assert failing.status_code == 201, failing.text
        f = failing.json()
        if f["state"] == "in_review":
            api.vote("carol", f["id"], f["files"][0]["id"], "approve",
                     override_reason="A public figure.")  # request override
        grace = Pages(h.app, "grace")
        assert grace.get("/governance").status_code == 200  # policy/membership/profile read
        assert Pages(h.app, "carol").get(f"/requests/{req['id']}").status_code == 200


def _commands(tmp_path: Path) -> None:
    from tre.cli import app

    def tre(*args: str, refused: bool = False) -> None:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == (2 if refused else 0), (args, result.output)

    proposed = tmp_path / "proposed.csv"
    proposed.write_text((REPO / "policies/policy.csv").read_text()
                        + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n")
    tre("policy", "diff", str(proposed), "--as", "grace")  # policy read
    tre("policy", "apply", str(proposed), "--reason", "r", "--as", "grace",
        "--tests", str(REPO / "policies/tests"), "--tests", str(tmp_path / "extra.yaml"))
    # the second approver from an account of her own (one account never approves its own
    # proposal, --as or not)
    import tre.authz.caller as caller

    proposer = caller.os_user
    caller.os_user = lambda: "heidi-account"
    try:
        tre("policy", "approve", "1", "--as", "heidi")  # policy approve
    finally:
        caller.os_user = proposer
    profile = tmp_path / "strict.yaml"
    profile.write_text((REPO / "policies/profiles/strict.yaml").read_text()
                       .replace('version: "1"', 'version: "2"'))
    tre("profile", "diff", "strict", str(profile), "--as", "grace")  # profile read
    tre("profile", "apply", str(profile), "--reason", "r", "--as", "grace")
    ds = tmp_path / "ehr"
    ds.mkdir()
    (ds / "person.parquet").write_bytes(b"PAR1")
    tre("project", "create", "demo-project", "--as", "grace")  # project create
    tre("project", "list", "--as", "grace")  # project read
    tre("dataset", "register", "ehr", str(ds), "--custodian", "cedric", "--tier", "3",
        "--as", "grace")  # dataset register
    tre("dataset", "list", "--as", "grace")
    tre("project", "grant", "demo-project", "ehr", "--as", "cedric")  # dataset grant
    tre("project", "revoke", "demo-project", "ehr", "--as", "cedric", "--reason", "r")
    tre("project", "add-member", "demo-project", "zed", "--until", "2099-01-01", "--as", "grace",
        "--reason", "r")  # membership grant (a proposal with second approval)
    tre("project", "members", "demo-project", "--as", "grace")  # membership read
    # asked, then refused by the truth tables in force (alice must keep her role)
    tre("project", "remove-member", "demo-project", "alice", "--as", "grace", "--reason", "r",
        refused=True)
    for command in ("verify", "export", "list"):
        tre("audit", command, "--as", "olivia")  # audit verify / export / read


def test_every_pair_is_asked_at_run_time(asked: set[tuple[str, str]], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    from tre.db import upgrade

    upgrade(url)
    monkeypatch.setenv("TRE_DATABASE_URL", url)
    monkeypatch.setenv("TRE_POLICY_SECOND_APPROVAL", "true")
    reset_settings()
    (tmp_path / "extra.yaml").write_text(
        "cases: [{subject: bob, domain: demo-project, allow: [request review]}]\n")
    _airlock(url, tmp_path / "data")
    _commands(tmp_path)
    missing = sorted(set(all_actions()) - HUB_ONLY - asked)
    assert missing == [], f"never asked while the airlock and the commands ran: {missing}"
    # One decision shape: every event that records a decision has it under "authz", a
    # list, and its action is one of AuditAction.
    from sqlalchemy import select

    from tre import audit
    from tre.authz.events import AuditAction
    from tre.db import make_engine, session_factory

    with session_factory(make_engine(url))() as s:
        events = [e.as_dict() for e in s.scalars(select(audit.AuditEvent))]
    deciding = [e for e in events if '"allowed"' in json.dumps(e["details"])]
    assert len(deciding) >= 15
    for e in deciding:
        assert e["action"] in set(AuditAction), e["action"]
        decisions = e["details"]["authz"]
        assert isinstance(decisions, list) and decisions, e
        assert all({"allowed", "subject", "domain", "object", "action"} <= set(d)
                   for d in decisions), e
    assert {e["action"] for e in deciding} >= {
        "airlock.request.create", "airlock.vote.cast", "airlock.release.download",
        "airlock.access.denied", "policy.propose", "policy.apply", "project.create",
        "dataset.grant", "airlock.request.transition"}


def test_every_audit_record_names_its_action_with_the_enum() -> None:
    literal = []
    for folder in ("airlock", "tre", "workspaces"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _name(node.func) == "record":
                    for kw in node.keywords:
                        if kw.arg == "action" and isinstance(kw.value, ast.Constant):
                            literal.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert literal == [], f"audit actions written as literals: {literal}"
