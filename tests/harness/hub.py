"""Test helpers for anything that needs the Docker engine, importable by other packages.

``from tests.harness.hub import docker_api, workspace_image`` in a test module makes
the fixtures available there.  Tests that need Docker never skip quietly: in CI
(``CI`` set) a missing engine fails the test; elsewhere it skips with a reason that
says how to get one.  Containers and networks the helpers create are labelled
:data:`TEST_LABEL` and removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from workspaces.network import Scope

REPO = Path(__file__).resolve().parents[2]
TEST_LABEL = "org.tre.test"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Docker is required in CI: {reason}")
    pytest.skip(f"NO DOCKER ENGINE, Docker tests not run: {reason}")


def connect_docker() -> Any:
    """A docker.APIClient, starting the engine with scripts/docker-engine when needed."""
    import docker

    try:
        api = docker.APIClient(version="auto")
        api.ping()
        return api
    except Exception:  # any failure here means: try to start the engine
        pass
    proc = subprocess.run([str(REPO / "scripts" / "docker-engine")], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        _unavailable((proc.stderr or proc.stdout).strip())
    return docker.APIClient(version="auto")


@pytest.fixture(scope="session")
def docker_api() -> Any:
    return connect_docker()


@pytest.fixture(scope="session")
def workspace_image(docker_api: Any) -> str:
    """The workspace image, built when missing or stale (seconds when cached)."""
    from tre.image import build
    from workspaces.settings import load_workspace_settings

    if os.geteuid() != 0:
        _unavailable("building the image and changing the firewall need root")
    return build(load_workspace_settings()).tag


@pytest.fixture
def test_scope() -> Iterator[Scope]:
    """A network scope of this test's own; its firewall chains are removed afterwards."""
    from workspaces.network import remove_firewall

    scope = Scope(f"t{secrets.token_hex(2)}-")
    yield scope
    remove_firewall(scope)


@dataclass
class Container:
    api: Any
    id: str

    def exec(self, cmd: list[str], user: str = "") -> tuple[int, str]:
        ex = self.api.exec_create(self.id, cmd, user=user)
        out = self.api.exec_start(ex["Id"]).decode("utf-8", "replace")
        return int(self.api.exec_inspect(ex["Id"])["ExitCode"]), out

    def python(self, code: str, user: str = "") -> tuple[int, str]:
        return self.exec(["python", "-c", code], user=user)

    def ip(self, network: str) -> str:
        info = self.api.inspect_container(self.id)
        return str(info["NetworkSettings"]["Networks"][network]["IPAddress"])

    def address(self) -> str:
        """The address of a container on one network (every workspace is)."""
        info = self.api.inspect_container(self.id)
        [net] = info["NetworkSettings"]["Networks"].values()
        return str(net["IPAddress"])

    def remove(self) -> None:
        self.api.remove_container(self.id, force=True, v=True)


_PROBE = """
import json, socket, sys, time
out = []
for host, port in json.loads(sys.argv[1]):
    s = socket.socket(); s.settimeout(float(sys.argv[2])); t = time.monotonic()
    try:
        s.connect((host, port)); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); body = s.recv(200)
        out.append([host, port, True, body.decode("latin-1")[:80]])
    except OSError as e:
        out.append([host, port, False, f"{type(e).__name__}: {e}"])
    finally:
        s.close()
print(json.dumps(out))
"""


def probe(container: Container, targets: list[tuple[str, int]],
          timeout: float = 2.0) -> dict[tuple[str, int], tuple[bool, str]]:
    """From inside ``container``: which TCP targets accept a connection (and what they say)."""
    code, out = container.exec(["python", "-c", _PROBE, json.dumps(targets), str(timeout)])
    assert code == 0, out
    return {(h, p): (ok, detail) for h, p, ok, detail in json.loads(out.strip().splitlines()[-1])}


def run_container(api: Any, image: str, *, command: list[str] | None = None,
                  name: str | None = None, volumes: list[str] | None = None,
                  **host_config: Any) -> Container:
    """Start a labelled container (``sleep infinity`` by default)."""
    binds = volumes or []
    created = api.create_container(
        image,
        command=command or ["sleep", "infinity"],
        name=name,
        labels={TEST_LABEL: "1"},
        volumes=[b.split(":")[1] for b in binds],
        host_config=api.create_host_config(binds=binds, **host_config),
    )
    api.start(created["Id"])
    return Container(api, created["Id"])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.server.server_address[0]}\n".encode()  # type: ignore[index]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Listener:
    """A tiny HTTP server on the host, in a thread, for reachability tests."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.server = ThreadingHTTPServer((host, port), _Hello)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def host_ipv4_addresses() -> list[str]:
    """The IPv4 address of every interface of this host (loopback included).

    Asked of the kernel directly (SIOCGIFADDR), since a bare machine may lack ``ip``.
    """
    import fcntl
    import struct

    found: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on this interface
                continue
            found.add(socket.inet_ntoa(raw[20:24]))
    return sorted(found)


# ---- a whole TRE, isolated ---------------------------------------------------------------------

ADMIN_SCOPES = ["admin:users", "admin:servers", "list:users", "read:users", "tokens"]
_EXTRA_CONFIG = """
from tre.hub.config import roles, service_environment, services
from workspaces.settings import load_workspace_settings
from tre.settings import get_settings

c.JupyterHub.services = services(load_workspace_settings(), service_environment(get_settings()))
c.JupyterHub.services.append({{"name": "harness", "api_token": "{token}"}})
c.JupyterHub.load_roles = roles() + [{{"name": "harness", "services": ["harness"],
                                      "scopes": {scopes!r}}}]
"""


@dataclass
class RunningTre:
    """A TRE brought up by :func:`running_tre`, driven through the hub's REST API."""

    url: str
    prefix: str
    state: Path
    password: str
    up_seconds: float
    api: Any  # docker.APIClient
    token: str
    env: dict[str, str] = field(default_factory=dict)  # its TRE_* settings
    spawn_seconds: list[float] = field(default_factory=list)

    @contextmanager
    def settings(self) -> Iterator[None]:
        """Its TRE_* settings in force (a test's own environment has none of them)."""
        from tre.settings import reset_settings

        with pytest.MonkeyPatch.context() as mp:
            for k, v in self.env.items():
                mp.setenv(k, v)
            reset_settings()
            try:
                yield
            finally:
                reset_settings()

    def rest(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/hub/api{path}", timeout=30,
                             headers={"Authorization": f"token {self.token}"}, **kw)

    def spawn(self, user: str, options: dict[str, Any]) -> httpx.Response:
        """Start ``user``'s workspace and wait until it is ready (the time is kept)."""
        self.rest("POST", f"/users/{user}")  # 201, or 409 when it exists
        started = time.monotonic()
        r = self.rest("POST", f"/users/{user}/server", json={"user_options": options})
        if r.status_code >= 400:
            return r
        while time.monotonic() - started < 90:
            model = self.rest("GET", f"/users/{user}").json()
            server = model["servers"].get("")
            if server and server["ready"]:
                self.spawn_seconds.append(time.monotonic() - started)
                return r
            if not server and not model.get("pending"):
                raise AssertionError(f"{user}'s server did not start: {self.log_tail()}")
            time.sleep(0.05)
        raise AssertionError(f"{user}'s server not ready after 90s: {self.log_tail()}")

    def stop(self, user: str) -> None:
        self.rest("DELETE", f"/users/{user}/server")
        for _ in range(200):
            if not self.rest("GET", f"/users/{user}").json()["servers"]:
                return
            time.sleep(0.05)

    def container(self, user: str, project: str) -> Container:
        info = self.api.inspect_container(f"{self.prefix}{user}-{project}")
        return Container(self.api, info["Id"])

    def log_tail(self, lines: int = 40) -> str:
        text = (self.state / "jupyterhub.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def run_in_kernel(tre: RunningTre, user: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in a new Python kernel of ``user``'s JupyterLab, through the proxy,
    as the user would; its standard output (AssertionError with the traceback if it
    raises)."""
    import asyncio

    token = tre.rest("POST", f"/users/{user}/tokens",
                     json={"scopes": [f"access:servers!server={user}/"]}).json()["token"]
    base, headers = f"{tre.url}/user/{user}/api/kernels", {"Authorization": f"token {token}"}
    r = httpx.post(base, headers=headers, json={"name": "python3"}, timeout=60)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    kernel = r.json()["id"]
    try:
        url = base.replace("http", "ws", 1) + f"/{kernel}/channels"
        return asyncio.run(asyncio.wait_for(_execute(url, headers, code), timeout))
    finally:
        httpx.delete(f"{base}/{kernel}", headers=headers, timeout=30)


async def _execute(url: str, headers: dict[str, str], code: str) -> str:
    """One execute_request on a kernel's websocket (Jupyter messaging protocol 5)."""
    from datetime import UTC, datetime

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(url, headers=headers))
    msg_id = secrets.token_hex(8)
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "harness", "session": secrets.token_hex(8),
                   "msg_type": "execute_request", "version": "5.3",
                   "date": datetime.now(UTC).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    out: list[str] = []
    try:
        while True:
            raw = await conn.read_message()
            if raw is None:
                raise AssertionError("the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content.get("traceback", [])))
            elif kind == "status" and content.get("execution_state") == "idle":
                return "".join(out)
    finally:
        conn.close()


def _public_port() -> int:
    while True:  # the proxy's own API takes the next port
        port = free_port()
        try:
            Listener("127.0.0.1", port + 1).close()
            return port
        except OSError:
            continue


@contextmanager
def running_tre(tmp: Path, api: Any, **settings: str) -> Iterator[RunningTre]:
    """``tre up`` (:func:`tre.hub.up.bring_up`) in a data directory, ports and network
    scope of its own, so a TRE running on the same machine is never touched; then
    ``tre down``, and its volumes removed.  ``settings``: more TRE_* variables."""
    from tre.hub.up import bring_down, bring_up
    from tre.settings import reset_settings
    from workspaces.context import reset_hub_context

    token, prefix = secrets.token_hex(16), f"e{secrets.token_hex(2)}-"
    extra = tmp / "harness_config.py"
    extra.write_text(_EXTRA_CONFIG.format(token=token, scopes=ADMIN_SCOPES))
    # The demo (shared password, static secrets) is a development setup: said explicitly,
    # since tre defaults to production.
    env = {"TRE_ENVIRONMENT": "development",
           "TRE_DATA_DIR": str(tmp / "data"), "TRE_HUB_PUBLIC_PORT": str(_public_port()),
           "TRE_HUB_PORT": str(free_port()), "TRE_HUB_GATE_PORT": str(free_port()),
           "TRE_AIRLOCK_PORT": str(free_port()),
           "TRE_NETWORK_PREFIX": prefix, "TRE_HUB_EXTRA_CONFIG": str(extra), **settings}
    log: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        reset_settings()
        reset_hub_context()
        try:
            _migrate()  # what scripts/up does first: `tre db upgrade`
            result = bring_up(log.append)
            assert result.password
            yield RunningTre(result.url, prefix, tmp / "data" / "hub", result.password,
                             result.seconds, api, token, env)
        finally:
            bring_down(log.append)
            reset_hub_context()
            reset_settings()
            for volume in api.volumes(filters={"name": prefix}).get("Volumes") or []:
                if volume["Name"].startswith(prefix):
                    api.remove_volume(volume["Name"], force=True)


def _migrate() -> None:
    from tre.db import upgrade
    from tre.settings import get_settings

    upgrade(get_settings().database_url)
