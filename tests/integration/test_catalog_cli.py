"""`tre project ...` and `tre dataset ...`: exit codes, one-line errors, audited changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.test_catalog_service import TEST_POLICY
from tre.cli import app

runner = CliRunner()


@pytest.fixture
def env(migrated_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seed = tmp_path / "policy.csv"
    seed.write_text(TEST_POLICY)
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "t.yaml").write_text("at: 2026-06-01\ncases:\n  - subject: grace\n"
                                   "    domain: '*'\n    allow: [project create]\n")
    monkeypatch.setenv("TRE_POLICY_SEED_FILE", str(seed))
    monkeypatch.setenv("TRE_POLICY_TESTS_DIR", str(tables))
    ds = tmp_path / "ehr"
    ds.mkdir()
    (ds / "person.parquet").write_bytes(b"PAR1")
    return ds


def tre(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_catalog_flow(env: Path) -> None:
    assert tre("project", "create", "proj-a", "--title", "A", "--as", "grace")[0] == 0
    code, out, err = tre("dataset", "register", "ehr", str(env), "--custodian", "cedric",
                         "--tier", "3", "--as", "grace")
    assert code == 0, err
    code, out, err = tre("project", "grant", "proj-a", "ehr", "--as", "cedric",
                         "--note", "DAC-7")
    assert (code, out.strip()) == (0, "ehr granted to proj-a (approved by cedric)")
    code, _, err = tre("project", "add-member", "proj-a", "alice", "--until", "2099-01-01",
                         "--as", "grace", "--reason", "joins")
    assert code == 0, err
    code, out, _ = tre("project", "members", "proj-a", "--json", "--as", "grace")
    assert [(m["user"], m["until"]) for m in json.loads(out)] == [("alice", "2099-01-01")]
    assert tre("project", "remove-member", "proj-a", "alice", "--as", "grace",
               "--reason", "left")[0] == 0
    assert tre("project", "members", "proj-a", "--as", "grace")[1].strip() == "(none)"
    code, out, _ = tre("dataset", "list", "--json", "--as", "grace")
    (row,) = json.loads(out)
    assert (row["name"], row["tier"], row["projects"]) == ("ehr", 3, "proj-a")
    code, out, _ = tre("project", "list", "--as", "grace")
    assert "proj-a" in out and "ehr" in out
    # The commands that read ask the authorisation point too (issue 13).
    code, out, _ = tre("project", "list", "--as", "zed")
    assert (code, "proj-a" in out) == (0, False)  # zed may read no project
    for args in (["project", "members", "proj-a"], ["dataset", "list"]):
        code, _, err = tre(*args, "--as", "zed")
        assert code == 2 and err.startswith("error: zed may not read "), err
    code, out, _ = tre("project", "revoke", "proj-a", "ehr", "--as", "cedric",
                       "--reason", "done")
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["project", "create", "proj-b", "--as", "cedric"], "cedric may not create project"),
        (["project", "create", "Bad", "--as", "grace"], "invalid project name"),
        (["project", "grant", "nope", "ehr", "--as", "cedric"], "no project 'nope'"),
        (["project", "add-member", "proj-a", "bob", "--until", "someday", "--as", "grace",
          "--reason", "r"], "bad date"),
        (["dataset", "register", "x", "/nonexistent", "--custodian", "c", "--tier", "1",
          "--as", "grace"], "not a directory"),
    ],
)
def test_refusals_are_one_line_and_exit_2(env: Path, args: list[str], message: str) -> None:
    assert tre("project", "create", "proj-a", "--as", "grace")[0] == 0
    code, _out, err = tre(*args)
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_datasets_tier_sets_its_default_profile(env: Path) -> None:
    """Before, the tier was stored and changed nothing: every dataset got 'default'."""
    for name, tier in (("open", "1"), ("cancer", "4")):
        code, _, err = tre("dataset", "register", name, str(env), "--custodian", "cedric",
                           "--tier", tier, "--as", "grace")
        assert code == 0, err
    code, out, _ = tre("dataset", "list", "--json", "--as", "grace")
    assert {r["name"]: r["profile"] for r in json.loads(out)} == {
        "open": "default", "cancer": "strict"}
