"""The ``tre`` CLI end to end: through a real subprocess and through typer's CliRunner.

Contract under test (README "CLI"): exit 0 pass, 3 escalate, 4 fail, 2 bad input
or usage, 1 unexpected; errors are one ``error: ...`` line on stderr, never a
traceback; ``--json`` prints the documented shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from typer.testing import CliRunner

from tests.harness.files import count_table, write_csv
from tre import __version__
from tre.cli import app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def run_subprocess(*args: str, env: dict[str, str] | None = None) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRE_")}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "tre.cli", *args],
        capture_output=True, text=True, env=full_env, timeout=120, check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_inprocess(*args: str, env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(app, list(args), env=env)
    return Run(result.exit_code, result.stdout, result.stderr)


class Tre(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run: ...


@pytest.fixture(params=["subprocess", "clirunner"])
def tre(request: pytest.FixtureRequest) -> Tre:
    """Run ``tre ARGS``; each test runs once per way of invoking the CLI."""
    return run_subprocess if request.param == "subprocess" else run_inprocess


def assert_clean_error(run: Run) -> None:
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert "error:" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


# ---- tre version -----------------------------------------------------------------


def test_version(tre: Tre) -> None:
    run = tre("version")
    assert run.exit_code == 0
    assert run.stdout.strip() == f"tre {__version__}"


def test_version_needs_no_settings(tre: Tre) -> None:
    # Settings are read when used, never at import time.
    run = tre("version", env={"TRE_MAX_UPLOAD_BYTES": "not-a-number"})
    assert run.exit_code == 0


# ---- usage errors ------------------------------------------------------------------


def test_unknown_option_is_usage_error(tre: Tre, tmp_path: Path) -> None:
    run = tre("check", str(count_table(tmp_path / "t.csv")), "--no-such-option")
    assert run.exit_code == 2
    assert "Traceback" not in run.stderr


def test_unknown_command_is_usage_error(tre: Tre) -> None:
    run = tre("no-such-command")
    assert run.exit_code == 2
    assert "Traceback" not in run.stderr


def test_check_without_path_is_usage_error(tre: Tre) -> None:
    assert tre("check").exit_code == 2


def test_invalid_settings_name_the_variable(tre: Tre, tmp_path: Path) -> None:
    path = count_table(tmp_path / "t.csv")
    run = tre("check", str(path), env={"TRE_ENVIRONMENT": "staging"})
    assert_clean_error(run)
    assert "TRE_ENVIRONMENT" in run.stderr


# ---- tre check: bad input ------------------------------------------------------------


def test_check_missing_file(tre: Tre, tmp_path: Path) -> None:
    run = tre("check", str(tmp_path / "absent.csv"))
    assert_clean_error(run)
    assert "absent.csv" in run.stderr


def test_check_directory(tre: Tre, tmp_path: Path) -> None:
    assert_clean_error(tre("check", str(tmp_path)))


def test_check_missing_evidence(tre: Tre, tmp_path: Path) -> None:
    path = count_table(tmp_path / "t.csv")
    run = tre("check", str(path), "--evidence", str(tmp_path / "absent.json"))
    assert_clean_error(run)
    assert "absent.json" in run.stderr


def test_check_empty_file(tre: Tre, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert_clean_error(tre("check", str(path)))


def test_check_ragged_csv(tre: Tre, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ragged.csv", [["region", "F", "M"], ["North", 25, 31, 7],
                                              ["South", 40]])
    assert_clean_error(tre("check", str(path)))


def test_check_profile_with_unknown_key(tre: Tre, tmp_path: Path) -> None:
    profile = tmp_path / "odd.yaml"
    profile.write_text("name: odd\nversion: '1'\nmin_cuont: 5\n")
    run = tre("check", str(count_table(tmp_path / "t.csv")), "--profile", str(profile))
    assert_clean_error(run)
    assert "min_cuont" in run.stderr


def test_check_unknown_profile_name(tre: Tre, tmp_path: Path) -> None:
    run = tre("check", str(count_table(tmp_path / "t.csv")), "--profile", "no-such-profile")
    assert_clean_error(run)
    assert "no-such-profile" in run.stderr


# ---- tre check: verdicts ---------------------------------------------------------------

UNSAFE = {"North": {"F": 25, "M": 31}, "South": {"F": 3, "M": 18}}
COUNT = ("--statistic", "count")  # a table without evidence is checked as counts if declared


def test_check_safe_count_table_passes(tre: Tre, tmp_path: Path) -> None:
    path = count_table(tmp_path / "safe.csv")
    run = tre("check", str(path), *COUNT)
    assert run.exit_code == 0, (run.stdout, run.stderr)
    assert "pass" in run.stdout
    assert "safe.csv" in run.stdout


def test_check_small_cell_fails_with_text_report(tre: Tre, tmp_path: Path) -> None:
    run = tre("check", str(count_table(tmp_path / "unsafe.csv", UNSAFE)), *COUNT)
    assert run.exit_code == 4, (run.stdout, run.stderr)
    assert "fail" in run.stdout
    assert "threshold" in run.stdout
    assert "South" in run.stdout
    assert "default" in run.stdout  # the profile's name


def test_check_text_with_an_identifier_fails_naming_the_line(tre: Tre, tmp_path: Path) -> None:
    """As the airlock decides it (statbarn.text): exit 4, the line named, the value not."""
    path = tmp_path / "notes.md"
    path.write_text("# Notes\nThe first patient, 943 476 5919, was seen twice.\n")
    run = tre("check", str(path))
    assert run.exit_code == 4, (run.stdout, run.stderr)
    assert "line 2: an NHS number" in run.stdout and "5919" not in run.stdout
    path.write_text("# Notes\nCounts were rounded to 5.\n")
    assert tre("check", str(path)).exit_code == 3  # prose: a person reads it


def test_check_small_cell_fails_with_json(tre: Tre, tmp_path: Path) -> None:
    path = count_table(tmp_path / "unsafe.csv", UNSAFE)
    run = tre("check", str(path), "--json", *COUNT)
    assert run.exit_code == 4, (run.stdout, run.stderr)
    data = json.loads(run.stdout)
    assert {"file", "statbarn", "verdict", "checks", "profile"} <= data.keys()
    assert data["verdict"] == "fail"
    assert data["file"].endswith("unsafe.csv")
    assert data["profile"]["name"] == "default"
    assert "version" in data["profile"]
    for check in data["checks"]:
        assert {"rule", "verdict", "cells"} <= check.keys()
        for cell in check["cells"]:
            assert {"row", "col", "value", "limit", "message"} <= cell.keys()
    threshold = [c for c in data["checks"] if c["rule"] == "threshold"]
    assert len(threshold) == 1
    assert threshold[0]["verdict"] == "fail"
    flagged = [(c["row"], c["col"], c["value"], c["limit"]) for c in threshold[0]["cells"]]
    assert ("South", "F", 3, 10) in flagged
    assert all(isinstance(c["message"], str) and c["message"] for c in threshold[0]["cells"])


def test_check_strict_profile_by_name(tre: Tre, tmp_path: Path) -> None:
    # Every cell passes the default threshold (10) but one is below strict's (20).
    path = count_table(tmp_path / "t.csv", {"North": {"F": 25, "M": 31},
                                            "South": {"F": 40, "M": 18}})
    assert tre("check", str(path), *COUNT).exit_code == 0
    run = tre("check", str(path), "--profile", "strict", "--json", *COUNT)
    assert run.exit_code == 4, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["profile"]["name"] == "strict"


def test_check_uses_tre_profile_from_tre_profiles_dir(tre: Tre, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "house.yaml").write_text("name: house\nversion: '7'\nmin_count: 50\n")
    env = {"TRE_PROFILES_DIR": str(profiles), "TRE_PROFILE": "house"}
    run = tre("check", str(count_table(tmp_path / "t.csv")), "--json", *COUNT, env=env)
    assert run.exit_code == 4, (run.stdout, run.stderr)
    data = json.loads(run.stdout)
    assert data["profile"] == {"name": "house", "version": "7"}
    threshold = next(c for c in data["checks"] if c["rule"] == "threshold")
    assert {cell["limit"] for cell in threshold["cells"]} == {50}


def test_check_magnitude_table_without_evidence_escalates(tre: Tre, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mean_cost.csv",
        [["region", "F", "M"], ["North", 1023.5, 998.25], ["South", 1250.75, 1101.0]],
    )
    run = tre("check", str(path), "--json")
    assert run.exit_code == 3, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["verdict"] == "escalate"


# ---- unexpected errors -----------------------------------------------------------------


def test_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airlock import onefile

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(onefile, "judge", broken, raising=False)
    path = count_table(tmp_path / "t.csv")
    run = run_inprocess("check", str(path))
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError: boom (set TRE_LOG_LEVEL=DEBUG for the traceback)"
    ]
    debug = run_inprocess("check", str(path), env={"TRE_LOG_LEVEL": "DEBUG"})
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr
    assert debug.stderr.strip().endswith("error: unexpected RuntimeError: boom")


# ---- tre up ------------------------------------------------------------------------------


def test_up_writes_and_checks_the_demo(data_dir: Path) -> None:
    run = run_inprocess("up", "--no-hub")
    assert run.exit_code == 0, (run.stdout, run.stderr)
    outputs = data_dir / "demo" / "outputs"
    assert (data_dir / "demo" / "data" / "patients.csv").is_file()
    verdicts = {
        line.split()[-1]: line.split()[0] for line in run.stdout.splitlines()
        if line.startswith("  ")
    }
    assert verdicts == {
        str(outputs / "patients_by_region_sex.csv"): "pass",
        str(outputs / "mean_cost_by_region_sex.csv"): "pass",
        str(outputs / "mean_cost_by_diagnosis_sex.csv"): "fail",
    }
    # The demo outputs check the same way through `tre check`.
    assert run_inprocess("check", str(outputs / "patients_by_region_sex.csv")).exit_code == 0
    assert run_inprocess("check", str(outputs / "mean_cost_by_diagnosis_sex.csv")).exit_code == 4


def test_up_is_idempotent(tmp_path: Path) -> None:
    first = run_inprocess("up", "--no-hub", "--dest", str(tmp_path / "demo"))
    second = run_inprocess("up", "--no-hub", "--dest", str(tmp_path / "demo"))
    assert first.exit_code == second.exit_code == 0, (second.stdout, second.stderr)
    assert first.stdout == second.stdout
