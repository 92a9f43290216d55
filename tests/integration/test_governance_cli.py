"""``tre policy ...`` and ``tre profile ...`` end to end (CliRunner, and one real subprocess).

Contract: exit 0 ok; 2 bad input, refused change or lint errors, with ``error: ...``
lines naming file and line and never a traceback; 4 failing truth-table cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from tre import audit
from tre.cli import app
from tre.settings import reset_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "policies" / "policy.csv").read_text()
BOB = SEED + "g, bob, output_checker, demo-project, 2020-01-01, 2099-01-01\n"


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRE_DATABASE_URL", db_url)
    reset_settings()
    return db_url


def tre(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def file(tmp_path: Path, text: str, name: str = "proposed.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_lint_the_shipped_policy() -> None:
    result = tre("policy", "lint", "--at", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "0 error(s), 0 warning(s) (no database: users and projects unchecked)")


def test_lint_names_file_line_and_problem(tmp_path: Path) -> None:
    path = file(tmp_path, SEED + "g, bob, reseacher, demo-project, 2026-01-01, 2027-01-01\n"
                "g, erin2, researcher, demo-project, 2020-01-01, 2021-01-01\n")
    result = tre("policy", "lint", path, "--at", "2026-06-01")
    assert result.exit_code == 2
    n = SEED.count("\n")
    assert f"{path}:{n + 1}: error: unknown role 'reseacher'" in result.stdout
    assert f"{path}:{n + 2}: warning: membership of erin2 as researcher" in result.stdout
    assert "1 error(s), 1 warning(s)" in result.stdout


def test_lint_with_the_database_knows_users_and_strict_fails_warnings(
    tmp_path: Path, database: str
) -> None:
    assert tre("policy", "apply", file(tmp_path, BOB), "--reason", "r", "--as", "grace"
               ).exit_code == 0
    path = file(tmp_path, BOB + "g, zed, researcher, demo-project, 2026-01-01, 2099-01-01\n")
    result = tre("policy", "lint", path, "--at", "2026-06-01")
    assert result.exit_code == 0
    assert "warning: unknown user 'zed'" in result.stdout
    assert tre("policy", "lint", path, "--strict", "--at", "2026-06-01").exit_code == 2


def test_truth_tables_pass_and_fail(tmp_path: Path) -> None:
    result = tre("policy", "test")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(", 0 failure(s)")
    generous = file(tmp_path, SEED + "p, researcher, *, request, review, allow\n")
    result = tre("policy", "test", "--policy", generous)
    assert result.exit_code == 4
    assert "FAIL " in result.stdout and "alice in demo-project: request review" in result.stdout
    table = file(tmp_path, "cases: [{subject: alice, domain: '*'}]\n", "t.yaml")
    result = tre("policy", "test", table)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {table}:1: a case needs")


def test_diff_lists_who_gains_what_where(tmp_path: Path) -> None:
    result = tre("policy", "diff", file(tmp_path, BOB), "--at", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert "  + bob may review request in demo-project" in result.stdout
    assert "memberships added:\n  bob as output_checker in demo-project" in result.stdout
    data = json.loads(tre("policy", "diff", file(tmp_path, BOB), "--json").stdout)
    assert {"user": "bob", "domain": "demo-project", "obj": "queue", "action": "read"} in (
        data["gained"])
    assert data["lost"] == []


def test_apply_only_for_governance_and_audited(
    tmp_path: Path, database: str, db: sessionmaker[Session]
) -> None:
    proposed = file(tmp_path, BOB)
    result = tre("policy", "apply", proposed, "--reason", "bob helps", "--as", "alice")
    assert result.exit_code == 2
    assert result.stderr == "error: alice may not edit the policy (no rule allows it)\n"
    result = tre("policy", "apply", proposed, "--reason", "bob helps", "--as", "grace")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("applied: policy version 2\n")
    assert "+ bob may review request in demo-project" in result.stdout
    result = tre("policy", "diff", proposed, "--as", "grace")
    assert result.stdout.startswith("policy diff: version 2 -> ")
    with db() as s:
        actions = list(s.scalars(select(audit.AuditEvent.action).order_by(audit.AuditEvent.seq)))
    # alice's refusal is audited too (issue 13: one refusal path, always audited)
    assert actions == ["policy.seed", "airlock.access.denied", "policy.apply"]


def test_a_bad_policy_is_refused_line_by_line(tmp_path: Path, database: str) -> None:
    bad = SEED + "p, researcher, *, request\ng, bob, researcher, demo-project, 2026-01-01, x\n"
    path = file(tmp_path, bad)
    result = tre("policy", "apply", path, "--reason", "r", "--as", "grace")
    assert result.exit_code == 2
    n = SEED.count("\n")
    assert result.stderr.splitlines() == [
        f"error: {path}:{n + 1}: a rule needs 6 fields: p, role, project, object, action, "
        "allow|deny (got 4)",
        f"error: {path}:{n + 2}: until: bad date 'x' (Invalid isoformat string: 'x'): use "
        "YYYY-MM-DD, or YYYY-MM-DDTHH:MM with a time zone",
    ]
    assert "Traceback" not in result.output


def test_second_approval_through_the_cli(tmp_path: Path, database: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_POLICY_SECOND_APPROVAL", "true")
    result = tre("policy", "apply", file(tmp_path, BOB), "--reason", "r", "--as", "grace")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("proposed: policy proposal 1, waiting for a second")
    result = tre("policy", "approve", "1", "--as", "grace")
    assert result.exit_code == 2
    assert "grace may not approve the policy (invariant, editor-never-approves-own-edit)" in (
        result.stderr)
    # heidi approves from her own account: one account never approves its own proposal
    monkeypatch.setattr("tre.authz.caller.os_user", lambda: "heidi-account")
    result = tre("policy", "approve", "1", "--as", "heidi", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == "2"


def test_profile_diff_and_apply(tmp_path: Path, database: str) -> None:
    text = (REPO / "policies/profiles/strict.yaml").read_text()
    text = text.replace('version: "1"', 'version: "2"').replace("min_count: 20", "min_count: 25")
    path = file(tmp_path, text, "strict.yaml")
    result = tre("profile", "diff", "strict", path, "--as", "grace")
    assert result.exit_code == 0, result.output
    assert "  min_count: 20 -> 25 (stricter)" in result.stdout
    result = tre("profile", "apply", path, "--reason", "tier 3", "--as", "carol")
    assert (result.exit_code, result.stderr) == (
        2, "error: carol may not edit disclosure profiles (no rule allows it)\n")
    result = tre("profile", "apply", path, "--reason", "tier 3", "--as", "grace")
    assert (result.exit_code, result.stdout) == (0, "applied: profile version 2\n")
    result = tre("profile", "diff", "strict", path, "--json", "--as", "grace")
    assert json.loads(result.stdout)["changes"] == []
    bad = file(tmp_path, text.replace("min_count: 25", "min_count: 0"), "strict.yaml")
    result = tre("profile", "apply", bad, "--reason", "r", "--as", "grace")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}:") and "key 'min_count'" in result.stderr


def test_usage_errors_and_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["TRE_DATA_DIR"] = str(tmp_path / "data")
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tre.cli", *args], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=120, check=False)

    no_reason = run("policy", "apply", file(tmp_path, BOB), "--as", "grace")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    missing = run("policy", "lint", str(tmp_path / "missing.csv"))
    assert (missing.returncode, missing.stderr) == (
        2, f"error: {tmp_path / 'missing.csv'}: No such file or directory\n")
    assert run("policy", "lint").returncode == 0
    assert all("Traceback" not in p.stderr for p in (no_reason, missing))
