"""A real ``tre airlock serve`` process: the CLI client against it, and a SIGKILL in the
middle of a streamed upload (no partial request, no orphan file, the chain verifies).

The real hub is replaced by static development tokens (TRE_AIRLOCK_IDENTITY=dev): the
hub is exercised by the workspace and end-to-end tests.  The authorisation point is
the production one here: the policy stored in the database, seeded from
policies/policy.csv.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.harness.airlock import TOKENS, failing_table, safe_table

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    env: dict[str, str]
    port: int
    data: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.data / "serve.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tre.cli", "airlock", "serve", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.data)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.data / "serve.log").read_text()
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the airlock did not start:\n" + (self.data / "serve.log").read_text())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
        env = {**self.env, "TRE_AIRLOCK_URL": self.url,
               "TRE_AIRLOCK_TOKEN": f"{user}-dev-token", "TRE_PROJECT": "demo-project"}
        return subprocess.run([sys.executable, "-m", "tre.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False,
                              cwd=self.data)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({
        "PYTHONPATH": str(REPO), "TRE_DATA_DIR": str(data), "TRE_DATABASE_URL": db_url,
        "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
        "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING",
    })
    srv = Server(env, free_port(), data)
    srv.start()
    yield srv
    srv.stop()


def count(db_url: str, table: str) -> int:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        n = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return n


def test_cli_against_a_real_server(server: Server, tmp_path: Path) -> None:
    path, _ = safe_table(tmp_path)
    r = server.cli("airlock", "submit", str(path), "--context", "counts by region and sex")
    assert r.returncode == 0, r.stderr
    assert ": released" in r.stdout and "pass      by_region.csv" in r.stdout
    request_id = r.stdout.split()[1].rstrip(":")
    r = server.cli("airlock", "status", request_id, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "released"
    r = server.cli("airlock", "status")
    assert r.returncode == 0 and request_id in r.stdout
    dest = tmp_path / "downloads"
    dest.mkdir()
    r = server.cli("airlock", "download", request_id, str(dest))
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(r.stdout.strip()) as zf:
        assert zf.read("files/by_region.csv") == path.read_bytes()
    # refusals: exit 2 with one line
    bad, _ = failing_table(tmp_path)
    r = server.cli("airlock", "submit", str(bad))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "context" in r.stderr
    r = server.cli("airlock", "download", request_id, str(dest), user="bob")
    assert r.returncode == 2 and "may not download" in r.stderr
    assert "Traceback" not in r.stderr
    r = server.cli("audit", "verify", "--as", "olivia")
    assert r.returncode == 0 and "intact" in r.stdout
    r = server.cli("audit", "export", "--as", "olivia")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and events[0]["seq"] == 1
    assert "airlock.release.download" in {e["action"] for e in events}


def test_audit_verify_names_the_first_changed_event(server: Server, db_url: str,
                                                    tmp_path: Path) -> None:
    path, _ = safe_table(tmp_path)
    assert server.cli("airlock", "submit", str(path), "--context", "x").returncode == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    engine.dispose()
    r = server.cli("audit", "verify", "--as", "olivia")
    assert r.returncode == 4
    assert r.stderr.strip().startswith(
        "error: audit log broken at event 3 (modified): event 3 was modified (its contents "
        "no longer give its stored hash) (trusted key SHA256:")


def test_sigkill_during_a_streamed_upload(server: Server, db_url: str, tmp_path: Path) -> None:
    path, _ = safe_table(tmp_path)
    assert server.cli("airlock", "submit", str(path), "--context", "before").returncode == 0
    requests_before = count(db_url, "airlock_requests")
    blobs_before = sorted(p.name for p in (server.data / "airlock/store/blobs").rglob("*")
                          if p.is_file())
    boundary = "killtestboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"project\"\r\n\r\n"
            f"demo-project\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"context\"\r\n\r\nbig\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"file\"; filename=\"big.csv\"\r\n\r\nregion,n\r\n").encode()
    declared = len(head) + 50 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"POST /api/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: token alice-dev-token\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {declared}\r\n\r\n").encode() + head)
    row = b"North,25\r\n" * 10_000
    tmp_dir = server.data / "airlock/store/tmp"
    sent = 0
    while sent < 5 * 1024 * 1024:
        sock.sendall(row)
        sent += len(row)
    deadline = time.monotonic() + 20
    partial: list[Path] = []
    while time.monotonic() < deadline:  # the upload is being written to a temp file
        partial = [p for p in tmp_dir.glob("*.part") if p.stat().st_size > 1024 * 1024]
        if partial:
            break
        time.sleep(0.05)
    assert partial, "the upload never reached the store's temp directory"
    server.kill()
    sock.close()
    assert count(db_url, "airlock_requests") == requests_before  # no partial request
    server.start()  # the start-up sweep removes what the killed process left
    assert list(tmp_dir.iterdir()) == []
    blobs_after = sorted(p.name for p in (server.data / "airlock/store/blobs").rglob("*")
                         if p.is_file())
    assert blobs_after == blobs_before  # no orphan
    r = server.cli("audit", "verify", "--as", "olivia")
    assert r.returncode == 0, r.stderr
    r = server.cli("airlock", "status", "--json")
    assert len(json.loads(r.stdout)["requests"]) == requests_before


def test_notebook_client_against_a_real_server(server: Server, tmp_path: Path) -> None:
    """What a researcher types in a notebook (sidecars found next to their files)."""
    from tre.workspace.airlock_client import AirlockError, Client

    path, _ = failing_table(tmp_path)
    with Client(server.url, "alice-dev-token") as client:
        rejected = client.submit([path], project="demo-project", context="rare conditions")
        # This server is reached over loopback, which is never a workspace network: a
        # rejected request's content is hidden (airlock.visibility); its safe alternative
        # (made from the sidecar found next to the file) is resubmitted by id all the same.
        assert rejected["state"] == "rejected" and rejected["file_count"] == 1
        assert rejected["files"] == [] and "content_hidden" in rejected
        safe = client.resubmit_safe_alternative(rejected["id"])
        assert safe["state"] == "released"
        bundle = client.download(safe["id"], tmp_path)
        assert zipfile.ZipFile(bundle).read("files/rare.safe.csv").count(b"\n") >= 2
        with pytest.raises(AirlockError) as err:
            client.download(rejected["id"], tmp_path)
        assert err.value.status == 409


def test_cli_submit_with_a_title(server: Server, tmp_path: Path) -> None:
    """Issue 14: the researcher names the request for the checkers' queue."""
    path, _ = safe_table(tmp_path)
    r = server.cli("airlock", "submit", str(path), "--context", "counts by region",
                   "--title", "Regional counts for the March report")
    assert r.returncode == 0, r.stderr
    assert "  title: Regional counts for the March report" in r.stdout
    r = server.cli("airlock", "submit", str(path), "--context", "x", "--title", "y" * 201)
    assert r.returncode != 0 and "at most 200" in (r.stderr + r.stdout)
