"""The chart's server image (helm/images/server): built FROM the Python base the workspace
image shares, and the airlock runs from it, locked down as the chart runs it, against
the host's PostgreSQL.

The image is built once and tagged with tre.image's content tag (its Python base, its
directory and tre's sources), so a later run with the same files reuses it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, _postgres_schema_url
from tests.harness.airlock import TOKENS, safe_table
from tests.harness.hub import _unavailable, docker_api, free_port
from tre.image import SERVER_DIR, base_tag, build, content_tag, python_base_tag
from workspaces.settings import load_workspace_settings

__all__ = ["docker_api"]  # a fixture, imported for pytest
REPO = Path(__file__).resolve().parents[2]


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([load_workspace_settings().docker, *args], capture_output=True,
                          text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def server_image(docker_api: Any) -> str:
    if os.geteuid() != 0:
        _unavailable("building the image's debootstrap base needs root")
    settings = load_workspace_settings()
    tag = content_tag(settings, "tre-server", SERVER_DIR)
    return build(settings, context=SERVER_DIR, tag=tag, reuse=True).tag


def _layers(image: str) -> list[str]:
    proc = _docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", image)
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


def test_the_server_is_built_on_the_python_base_on_the_debootstrap_base(
        server_image: str) -> None:
    settings = load_workspace_settings()
    base, python, server = (_layers(t) for t in (base_tag(settings),
                                                 python_base_tag(settings), server_image))
    assert len(base) == 1  # one imported layer: no registry image underneath
    assert python[:1] == base and len(python) > 1
    assert server[:len(python)] == python and len(server) > len(python)


def test_the_image_runs_as_the_chart_expects_and_keeps_no_ca(server_image: str) -> None:
    import jupyterhub

    proc = _docker("run", "--rm", "--read-only", "--cap-drop", "ALL", server_image,
                   "sh", "-c", "id -u; id -g; env; python -c 'import jupyterhub; "
                   "print(jupyterhub.__version__)'; configurable-http-proxy --version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[:2] == ["1000", "1000"]
    assert jupyterhub.__version__ in lines  # the hub's, and so the workspaces'
    assert not [v for v in lines if v.startswith(("PIP_CERT=", "NODE_EXTRA_CA_CERTS="))]
    proc = _docker("run", "--rm", server_image, "sh", "-c", "ls /run/secrets 2>&1 || true")
    assert "ca.crt" not in proc.stdout


@pytest.fixture
def database_url() -> Iterator[str]:
    """A schema of its own in the host's PostgreSQL."""
    schema = f"srvimg_{secrets.token_hex(4)}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def airlock(server_image: str, database_url: str) -> Iterator[str]:
    """``tre airlock serve`` from the image, as the chart runs it: uid 1000, read-only
    root, every capability dropped, no new privileges, state on a scratch volume."""
    port = free_port()
    name = f"tre-test-airlock-{secrets.token_hex(3)}"
    env = {"TRE_ENVIRONMENT": "development", "TRE_DATABASE_URL": database_url,
           "TRE_DATA_DIR": "/var/lib/tre/scratch", "TRE_AIRLOCK_HOST": "127.0.0.1",
           "TRE_AIRLOCK_PORT": str(port), "TRE_AIRLOCK_IDENTITY": "dev",
           "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING"}
    locked = ["--label", "org.tre.test=1", "--network", "host",
              "--read-only", "--user", "1000:1000", "--cap-drop", "ALL",
              "--security-opt", "no-new-privileges", "--tmpfs", "/tmp",
              "--tmpfs", "/var/lib/tre/scratch:uid=1000,gid=1000"]
    for key, value in env.items():
        locked += ["-e", f"{key}={value}"]
    # First the chart's migration Job: `tre db upgrade` is the one command that migrates.
    job = _docker("run", "--rm", *locked, server_image, "tre", "db", "upgrade")
    assert job.returncode == 0, job.stdout + job.stderr
    proc = _docker("run", "-d", "--name", name, *locked, server_image,
                   "tre", "airlock", "serve", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            running = _docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            assert running == "true" and time.monotonic() < deadline, \
                _docker("logs", name).stdout + _docker("logs", name).stderr
            time.sleep(0.5)
        yield url
    finally:
        _docker("rm", "-f", name)


def test_the_airlock_runs_from_the_image_on_postgresql(airlock: str, tmp_path: Path) -> None:
    health = httpx.get(f"{airlock}/api/health").json()
    assert health["status"] == "ok" and health["database"] == "ok"
    path, _ = safe_table(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({"PYTHONPATH": str(REPO), "TRE_AIRLOCK_URL": airlock,
                "TRE_AIRLOCK_TOKEN": "alice-dev-token", "TRE_PROJECT": "demo-project",
                "TRE_ENVIRONMENT": "development"})
    r = subprocess.run([sys.executable, "-m", "tre.cli", "airlock", "submit", str(path),
                        "--context", "counts by region and sex"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert ": released" in r.stdout and "pass      by_region.csv" in r.stdout
