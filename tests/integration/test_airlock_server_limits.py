"""A real ``tre airlock serve``: slow heads, stalled bodies and too many connections are
cut off, while another client's ordinary request is answered (issue 11)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.airlock import TOKENS, auth, multipart, safe_table
from tests.integration.test_airlock_serve import REPO, Server, free_port

pytestmark = pytest.mark.integration
MAX_CONNECTIONS = 4


def start(db_url: str, tmp_path: Path, **settings: str) -> Server:
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({
        "PYTHONPATH": str(REPO), "TRE_DATA_DIR": str(data), "TRE_DATABASE_URL": db_url,
        "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
        "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING",
        **{f"TRE_AIRLOCK_{k.upper()}": v for k, v in settings.items()},
    })
    srv = Server(env, free_port(), data)
    srv.start()
    return srv


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start(db_url, tmp_path, header_timeout_seconds="1", body_timeout_seconds="1")
    yield srv
    srv.stop()


@pytest.fixture
def few_connections(db_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start(db_url, tmp_path, max_connections=str(MAX_CONNECTIONS))
    yield srv
    srv.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def closed_without_answer(sock: socket.socket) -> bool:
    """Whether the server closes the connection (no bytes, then EOF) before our 30 s."""
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, TimeoutError):
        return False
    finally:
        sock.close()


def submit_ordinary(server: Server, tmp_path: Path) -> httpx.Response:
    path, side = safe_table(tmp_path)
    data, files = multipart([(path.name, path.read_bytes())],
                            sidecars=[(side.name, side.read_bytes())])
    return httpx.post(f"{server.url}/api/requests", data=data, files=files,
                      headers=auth("bob"), timeout=60)


def test_slow_and_silent_heads_are_cut_off(server: Server, tmp_path: Path) -> None:
    silent = connect(server)
    slow = connect(server)
    slow.sendall(b"POST /api/requests HTTP/1.1\r\nHost: airlock\r\nX-Slow: ")  # and stops
    r = submit_ordinary(server, tmp_path)  # meanwhile another client is served
    assert r.status_code == 201 and r.json()["state"] == "released", r.text
    assert closed_without_answer(silent)
    assert closed_without_answer(slow)


def test_a_stalled_upload_is_answered_408(server: Server) -> None:
    sock = connect(server)
    boundary = "b0und4ry"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"project\"\r\n\r\n"
            f"demo-project\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"t.csv\"\r\n\r\nregion,n\r\n").encode()
    head = (f"POST /api/requests HTTP/1.1\r\nHost: airlock\r\n"
            f"Authorization: token alice-dev-token\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) + 10_000}\r\n\r\n").encode()
    sock.sendall(head + body)  # ... and the remaining 10,000 bytes never come
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        block = sock.recv(4096)
        if not block:
            break
        answer += block
    sock.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408", answer
    detail = json.loads(rest.partition(b"\r\n\r\n")[2])["detail"]
    assert detail == "the upload stalled: nothing arrived for 1 second; send it again"
    assert list((server.data / "airlock" / "store" / "tmp").glob("*")) == []


def test_connections_beyond_the_limit_are_refused_503(few_connections: Server) -> None:
    # the held connections send nothing; the default head deadline (10 s) keeps them
    held = [connect(few_connections) for _ in range(MAX_CONNECTIONS)]
    try:
        r = httpx.get(f"{few_connections.url}/api/health", timeout=30)
        assert r.status_code == 503
    finally:
        for sock in held:
            sock.close()


def test_a_stalled_json_body_is_answered_408(server: Server) -> None:
    sock = connect(server)
    head = (b"POST /api/requests/abc/votes HTTP/1.1\r\nHost: airlock\r\n"
            b"Authorization: token carol-dev-token\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n")
    sock.sendall(head + b'{"votes": [')  # ... and the rest never comes
    answer = b""
    while not answer.rstrip().endswith(b"}"):
        block = sock.recv(4096)
        if not block:
            break
        answer += block
    sock.close()
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"408", answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["detail"] == (
        "the request body stalled: nothing arrived for 1 second; send it again")
