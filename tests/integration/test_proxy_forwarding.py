"""A call through the hub's proxy is outside, even from an address of a workspace network.

On Kubernetes the hub's pod, where configurable-http-proxy carries every browser's
traffic, has an address of the same pod network as the workspaces
(``airlock.workspaceNetworks`` names it), so the network alone would call the proxy's
calls inside.  What keeps them outside is the header the proxy adds:
X-Forwarded-For (airlock.origin).  This test runs the real configurable-http-proxy
(scripts/system-prereqs installs it) as JupyterHub runs it (no ``--no-x-forward``;
routes added through its REST API, as the hub adds the airlock's), in front of a real
``tre airlock serve``.  The airlock listens on this machine's own non-loopback address,
which is its only workspace network (``/32``), and the proxy connects from that
address too: the one difference between the two calls is the proxy.

The hub is replaced by static development tokens (TRE_AIRLOCK_IDENTITY=dev), which the
airlock treats as hub API tokens (the credential a workspace holds).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.harness.airlock import TOKENS

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
PREFIX = "/services/airlock"  # the chart's TRE_AIRLOCK_BASE_PATH, the hub's route


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def own_address() -> str:
    """This machine's address on its first non-loopback interface (no packet is sent)."""
    proc = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                          capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            return address
    pytest.fail("this machine has no non-loopback IPv4 address to serve the airlock on")


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, **kw: object) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            httpx.get(url, timeout=1, **kw)  # type: ignore[arg-type]
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


@pytest.fixture
def airlock(tmp_path: Path) -> Iterator[str]:
    """``tre airlock serve`` on this machine's own address; its URL (with the prefix)."""
    address, port = own_address(), free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({
        "PYTHONPATH": str(REPO), "TRE_DATA_DIR": str(data),
        "TRE_DATABASE_URL": f"sqlite:///{data / 'tre.db'}",
        "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
        "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING",
        "TRE_AIRLOCK_HOST": address, "TRE_AIRLOCK_BASE_PATH": PREFIX,
        "TRE_AIRLOCK_WORKSPACE_NETWORKS": json.dumps([f"{address}/32"]),
    })
    from tre.db import upgrade

    upgrade(env["TRE_DATABASE_URL"])  # the one command that migrates (tre db upgrade) first
    log = data / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tre.cli", "airlock", "serve",
                                 "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=data)
    url = f"http://{address}:{port}{PREFIX}"
    try:
        wait_for(f"{url}/api/health", proc, log)
        yield url
    finally:
        stop(proc)


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"peer": self.client_address[0],
                           "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    """A server answering with the headers it received, on this machine's own address."""
    server = ThreadingHTTPServer((own_address(), 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{own_address()}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """The real configurable-http-proxy: (public URL, API URL, its token)."""
    found = shutil.which("configurable-http-proxy")
    if found is None:
        pytest.fail("configurable-http-proxy is not installed: run scripts/system-prereqs")
    port, api_port, token = free_port(), free_port(), secrets.token_hex(16)
    log = tmp_path / "proxy.log"
    # The options JupyterHub's ConfigurableHTTPProxy.start gives it (jupyterhub/proxy.py).
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [found, "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
             "--api-port", str(api_port), "--error-target", "http://127.0.0.1:9/hub/error",
             "--log-level", "warn"],
            env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": token}, stdout=out,
            stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}/api/routes"
    try:
        wait_for(api, proc, log, headers={"Authorization": f"token {token}"})
        yield f"http://127.0.0.1:{port}", api, token
    finally:
        stop(proc)


def add_route(proxy: tuple[str, str, str], prefix: str, target: str) -> None:
    _, api, token = proxy
    r = httpx.post(f"{api}{prefix}", json={"target": target},
                   headers={"Authorization": f"token {token}"})
    assert r.status_code == 201, r.text


def origin(url: str, user: str = "alice") -> str:
    r = httpx.get(f"{url}/api/me", headers={"Authorization": f"token {user}-dev-token"})
    assert r.status_code == 200, r.text
    return str(r.json()["origin"])


def test_the_proxy_adds_x_forwarded_for(proxy: tuple[str, str, str], echo: str) -> None:
    add_route(proxy, "/echo", echo)
    got = httpx.get(f"{proxy[0]}/echo/x").json()
    # the proxy connects from the machine's own address (a workspace network's, here)
    assert got["peer"] == own_address()
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the caller, as the proxy saw it
    # a header the caller sends is extended, never replaced: it cannot be taken away
    got = httpx.get(f"{proxy[0]}/echo/x", headers={"X-Forwarded-For": "10.9.9.9"}).json()
    assert {k.lower(): v for k, v in got["headers"].items()}["x-forwarded-for"] == \
        "10.9.9.9,127.0.0.1"


def test_a_call_through_the_proxy_is_outside_from_a_workspace_network(
        proxy: tuple[str, str, str], airlock: str) -> None:
    # straight from an address of the workspace network: inside
    assert origin(airlock) == "workspace"
    # the same token, the same source address (the proxy connects from it), through
    # the proxy: the header it adds makes the call outside
    add_route(proxy, PREFIX, airlock.removesuffix(PREFIX))
    assert origin(f"{proxy[0]}{PREFIX}") == "outside"
