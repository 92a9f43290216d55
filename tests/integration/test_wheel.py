"""The built wheel carries everything tre reads at run time, and works installed.

An operator may install tre from a wheel rather than run it from a checkout (a
server image, a Kubernetes pod).  Then nothing under ``policies/`` is beside the
code: the Casbin model, the seed policy, the truth tables and the disclosure
profiles must travel inside the packages.  The wheel is built with pip (hatchling
from the package index, as for any build) and unpacked; the CLI and the airlock
then run from the unpacked copy, which comes first on the path, with the
checkout out of reach (another working directory, no TRE_* settings).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.harness.airlock import TOKENS, safe_table
from tests.integration.test_airlock_serve import Server, free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
NEEDED = [
    "tre/authz/policies/model.conf",
    "tre/authz/policies/policy.csv",
    "tre/authz/policies/tests/separation.yaml",
    "statbarn/profiles/default.yaml",
    "statbarn/profiles/strict.yaml",
    "tre/migrations/env.py",
    "tre/migrations/alembic.ini",
    "tre/migrations/versions/0001_audit.py",
    "airlock/db/migrations/0002_airlock.py",
    "airlock/ui/templates/base.html",
    "airlock/ui/static/airlock.css",
]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr
    [wheel] = out.glob("tre-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    return site, names


def _env(site: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({"PYTHONPATH": str(site), "TRE_DATA_DIR": str(data),
                "TRE_ENVIRONMENT": "development", "TRE_LOG_LEVEL": "WARNING"})
    return env


def _tre(site: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tre.cli", *args], env=_env(site, data),
                          cwd=data, capture_output=True, text=True, timeout=300, check=False)


def test_the_wheel_holds_the_policies_profiles_migrations_and_pages(
        unpacked: tuple[Path, list[str]]) -> None:
    _, names = unpacked
    missing = [n for n in NEEDED if n not in names]
    assert not missing, missing
    assert not any("__pycache__" in n for n in names)


def test_the_wheel_ships_no_test_harness_and_no_pytest(unpacked: tuple[Path, list[str]]) -> None:
    """pytest is a dev extra: a shipped module importing it breaks an installed tre, and
    a shipped harness (real tokens, a development login) has no place on a server."""
    site, names = unpacked
    assert not [n for n in names if n.startswith("tests/")]
    assert not [n for n in names if Path(n).stem in ("testing", "conftest", "factories")]
    imports = re.compile(r"^\s*(import pytest\b|from pytest\b|import _pytest|from _pytest)",
                         re.MULTILINE)
    offenders = [n for n in names if n.endswith(".py")
                 and imports.search((site / n).read_text(encoding="utf-8"))]
    assert offenders == []


def test_governance_commands_run_from_the_installed_copy(unpacked: tuple[Path, list[str]],
                                                         tmp_path: Path) -> None:
    site, _ = unpacked
    where = subprocess.run(
        [sys.executable, "-c", "import tre.authz.settings as s; print(s.POLICIES)"],
        env=_env(site, tmp_path), cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()) == site / "tre" / "authz" / "policies"
    lint = _tre(site, tmp_path, "policy", "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    truth = _tre(site, tmp_path, "policy", "test")
    assert truth.returncode == 0, truth.stdout + truth.stderr
    # every truth table travelled: the same cases as the checkout's own run
    here = subprocess.run([sys.executable, "-m", "tre.cli", "policy", "test"],
                          env={**_env(REPO, tmp_path)}, cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert re.fullmatch(r"[1-9]\d* case\(s\), 0 failure\(s\)\n", truth.stdout), truth.stdout
    assert truth.stdout == here.stdout


def test_the_airlock_serves_and_decides_from_the_installed_copy(
        unpacked: tuple[Path, list[str]], tmp_path: Path) -> None:
    site, _ = unpacked
    data = tmp_path / "data"
    data.mkdir()
    env = {**_env(site, data), "TRE_AIRLOCK_IDENTITY": "dev",
           "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS)}
    upgrade = _tre(site, data, "db", "upgrade")  # the one command that migrates
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    server = Server(env, free_port(), data)  # `tre airlock serve`, ready when healthy
    server.start()
    url = server.url
    try:
        css = httpx.get(f"{url}/static/airlock.css")
        assert css.status_code == 200 and css.content == \
            (REPO / "airlock" / "ui" / "static" / "airlock.css").read_bytes()
        table, sidecar = safe_table(tmp_path)
        token = next(t for t, user in TOKENS.items() if user == "alice")
        with open(table, "rb") as fh, open(sidecar, "rb") as side:
            r = httpx.post(f"{url}/api/requests", headers={"Authorization": f"token {token}"},
                           data={"project": "demo-project", "context": "counts by region"},
                           files=[("file", (table.name, fh)), ("sidecar", (sidecar.name, side))],
                           timeout=60)
        assert r.status_code == 201, r.text
        body = r.json()
        # the seed policy (alice is a researcher on demo-project) and the default
        # profile (automatic release) both came from the wheel
        assert body["state"] == "released", body
        assert body["profile"]["name"] == "default"
    finally:
        server.stop()
