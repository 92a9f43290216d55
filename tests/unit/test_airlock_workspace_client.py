"""The researcher's client: configuration from the workspace's environment, bundle checks,
and its requests (against a fake airlock through httpx's MockTransport)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import httpx
import pytest

from tre.workspace.airlock_client import (
    AirlockError,
    Client,
    airlock_token,
    airlock_url,
    verify_bundle,
)

pytestmark = pytest.mark.unit


def test_url_and_token_from_the_environment() -> None:
    assert airlock_url({"TRE_AIRLOCK_URL": "http://10.0.0.1:8090/services/airlock/"}) == \
        "http://10.0.0.1:8090/services/airlock"
    assert airlock_url({"JUPYTERHUB_API_URL": "http://172.20.0.1:8081/hub/api",
                        "JUPYTERHUB_BASE_URL": "/"}) == \
        "http://172.20.0.1:8090/services/airlock"
    with pytest.raises(AirlockError, match="TRE_AIRLOCK_URL"):
        airlock_url({})
    assert airlock_token({"JUPYTERHUB_API_TOKEN": "hub"}) == "hub"
    assert airlock_token({"JUPYTERHUB_API_TOKEN": "hub", "TRE_AIRLOCK_TOKEN": "own"}) == "own"
    with pytest.raises(AirlockError, match="no token"):
        airlock_token({})


def bundle(tmp: Path, content: bytes, recorded: bytes) -> Path:
    path = tmp / "b.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("files/t.csv", content)
        zf.writestr("record.json", json.dumps({"files": [
            {"name": "t.csv", "sha256": hashlib.sha256(recorded).hexdigest()}]}))
    return path


def test_verify_bundle(tmp_path: Path) -> None:
    assert verify_bundle(bundle(tmp_path, b"a,b\n", b"a,b\n"))["files"][0]["name"] == "t.csv"
    with pytest.raises(AirlockError, match="does not match its record"):
        verify_bundle(bundle(tmp_path, b"a,b\n", b"a,c\n"))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(AirlockError, match="damaged"):
        verify_bundle(tmp_path / "junk.zip")


def test_submit_sends_files_sidecars_and_manifest(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["authorization"]
        body = request.read()
        seen["body"] = body
        return httpx.Response(201, json={"id": "r1", "state": "released"})

    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "t.csv.statbarn.json").write_text("{}")
    (tmp_path / "n.md").write_text("# n\n")
    monkeypatch.setenv("TRE_PROJECT", "demo-project")
    with Client("http://airlock", "tok", httpx.MockTransport(handler)) as c:
        out = c.submit([tmp_path / "t.csv", tmp_path / "n.md"], context="why",
                       contexts={str(tmp_path / "n.md"): "notes"})
    assert out["id"] == "r1" and seen["auth"] == "token tok"
    body = seen["body"]
    assert isinstance(body, bytes)
    assert b'filename="t.csv.statbarn.json"' in body and b'filename="n.md"' in body
    assert b'"context": "notes"' in body and b"demo-project" in body


def test_errors_carry_the_servers_message(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"detail": "bob may not download", "code": "forbidden"})

    with Client("http://airlock", "tok", httpx.MockTransport(handler)) as c:
        with pytest.raises(AirlockError) as err:
            c.download("r1", tmp_path)
        assert err.value.status == 403 and str(err.value) == "bob may not download"
        with pytest.raises(AirlockError, match="which project"):
            c.submit([tmp_path / "x"], project=None)
    assert list(tmp_path.iterdir()) == []  # no partial download left


def test_unreachable(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with Client("http://airlock", "tok", httpx.MockTransport(handler)) as c, \
            pytest.raises(AirlockError, match="cannot reach"):
        c.status()


def test_notebooks_import_the_client_under_its_short_name() -> None:
    """The welcome notebook in the image writes ``from tre.workspace import airlock``; the
    module itself is airlock_client, so that nothing named ``airlock`` shadows the package."""
    import tre.workspace
    from tre.workspace import airlock, airlock_client

    assert airlock is airlock_client
    assert callable(airlock.submit)
    assert not (Path(tre.workspace.__file__).parent / "airlock.py").exists()
