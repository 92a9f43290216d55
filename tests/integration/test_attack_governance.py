"""Governance from the command line: one operating-system account may not propose a
change and approve it under another ``--as`` name (attack review).

TRE_ENVIRONMENT is read from the caller's own shell, so whoever runs the CLI can choose
development, and with it ``--as``: the separation of duties is checked on the
operating-system account that made the proposal too (tre.authz.proposer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tre import audit
from tre.cli import app
from tre.db import make_engine, session_factory
from tre.settings import reset_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "policies" / "policy.csv").read_text()


def tre(data: Path, env: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRE_")}
    clean.update(TRE_DATA_DIR=str(data), TRE_ENVIRONMENT=env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tre.cli", *args], env=clean, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_one_account_cannot_propose_and_approve_below_the_floor(tmp_path: Path) -> None:
    data = tmp_path / "data"
    weak = tmp_path / "weak.yaml"
    text = (ROOT / "policies/profiles/default.yaml").read_text()
    weak.write_text(text.replace("min_count: 10 ", "min_count: 1 ")
                    .replace('version: "1"', 'version: "2"'))
    # the database is migrated (scripts/up does it; no other command migrates), so the
    # refusal below is the authorisation point's
    assert tre(data, "production", "db", "upgrade").returncode == 0
    # the platform runs in production; this account is no governance user
    denied = tre(data, "production", "profile", "apply", str(weak), "--reason", "x")
    assert denied.returncode != 0
    proposed = tre(data, "development", "profile", "apply", str(weak), "--reason", "lower it",
                   "--as", "grace")
    assert proposed.stdout.startswith("proposed: profile proposal 1"), proposed.stderr
    approved = tre(data, "development", "profile", "approve", "1", "--as", "heidi")
    assert "applied" not in approved.stdout, (
        "one OS account set TRE_ENVIRONMENT=development in its own shell and applied "
        f"min_count 1 as grace + heidi: {proposed.stdout.strip()} / {approved.stdout.strip()}")
    assert approved.returncode == 2
    assert "heidi may not approve proposal 1 (invariant, one-account-never-approves-own-" \
           "proposal)" in approved.stderr
    assert "Traceback" not in approved.stderr


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRE_DATABASE_URL", db_url)
    monkeypatch.setenv("TRE_ENVIRONMENT", "development")
    monkeypatch.setenv("TRE_POLICY_SECOND_APPROVAL", "true")
    reset_settings()
    return db_url


def test_one_account_cannot_propose_and_approve_a_policy(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = tmp_path / "bob.csv"
    bob.write_text(SEED + "g, bob, output_checker, demo-project, 2026-01-01, 2099-01-01\n")
    run = CliRunner().invoke
    result = run(app, ["policy", "apply", str(bob), "--reason", "r", "--as", "grace"])
    assert result.stdout.startswith("proposed: policy proposal 1"), result.output
    result = run(app, ["policy", "approve", "1", "--as", "heidi"])
    assert result.exit_code == 2
    assert "heidi may not approve proposal 1 (invariant, one-account-never-approves-own-" \
           "proposal)" in result.stderr
    factory = session_factory(make_engine(database))
    with factory() as s:
        events = [(e.actor, e.action, json.loads(e.details)) for e in
                  s.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq))]
    assert not [e for e in events if e[1] == "policy.apply"]
    [denied] = [e for e in events if e[1] == "airlock.access.denied"]
    assert denied[0] == "heidi"
    assert denied[2]["authz"][0]["rule"] == ["invariant",
                                             "one-account-never-approves-own-proposal"]
    # heidi's own account approves it.
    monkeypatch.setattr("tre.authz.caller.os_user", lambda: "heidi-account")
    result = run(app, ["policy", "approve", "1", "--as", "heidi"])
    assert result.exit_code == 0, result.output
