"""Identity: hub tokens (against a fake hub API), dev tokens (development only), settings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from airlock.identity import (
    DevTokenIdentity,
    HubIdentity,
    HubUnavailable,
    IdentityError,
    token_from_header,
)
from airlock.settings import load_airlock_settings
from tre.settings import SettingsError, load_settings

STRONG_KEY = "f3a9c1d27be84e6a90d5c3b71e2f48a6"  # random hex: production accepts it

pytestmark = pytest.mark.unit


def hub(responses: dict[str, httpx.Response], calls: list[str]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/hub/api/user"
        token = request.headers["authorization"].removeprefix("token ")
        calls.append(token)
        return responses.get(token, httpx.Response(403, json={"message": "no"}))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_hub_token_is_validated_scoped_and_cached() -> None:
    calls: list[str] = []
    client = hub({
        "good": httpx.Response(200, json={"name": "alice", "kind": "user", "scopes": [
            "access:services!service=airlock", "read:users:name!user=alice"]}),
        "other-service": httpx.Response(200, json={"name": "bob", "scopes": [
            "access:services!service=grafana"]}),
        "all-services": httpx.Response(200, json={"name": "carol", "scopes": [
            "access:services"]}),
        "broken": httpx.Response(200, content=b"not json"),
        "down": httpx.Response(502),
    }, calls)
    ident = HubIdentity("http://hub:8081/hub/api/", "airlock", 30, client)

    async def go() -> None:
        assert (await ident.authenticate("good")).name == "alice"
        assert (await ident.authenticate("good")).name == "alice"
        assert calls == ["good"]  # cached
        assert (await ident.authenticate("all-services")).name == "carol"
        with pytest.raises(IdentityError, match="does not grant access"):
            await ident.authenticate("other-service")
        with pytest.raises(IdentityError, match="does not accept"):
            await ident.authenticate("unknown")
        with pytest.raises(HubUnavailable):
            await ident.authenticate("broken")
        with pytest.raises(HubUnavailable):
            await ident.authenticate("down")
        await client.aclose()

    asyncio.run(go())


def test_a_hub_answer_without_scopes_is_refused() -> None:
    # A hub before 2.0, or a proxy that drops the field: nothing says the token may use
    # this service (issue 13: such tokens were accepted).
    client = hub({"no-scopes": httpx.Response(200, json={"name": "mallory", "kind": "user"}),
                  "null-scopes": httpx.Response(200, json={"name": "mallory", "scopes": None})},
                 [])
    ident = HubIdentity("http://hub:8081/hub/api", "airlock", 30, client)

    async def go() -> None:
        for token in ("no-scopes", "null-scopes"):
            with pytest.raises(IdentityError, match="does not grant access to the airlock"):
                await ident.authenticate(token)
        await client.aclose()

    asyncio.run(go())


def test_hub_unreachable_is_503() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    ident = HubIdentity("http://hub/hub/api", client=httpx.AsyncClient(
        transport=httpx.MockTransport(handler)))
    with pytest.raises(HubUnavailable) as err:
        asyncio.run(ident.authenticate("x"))
    assert err.value.status == 503


def test_dev_tokens_only_in_development() -> None:
    ident = DevTokenIdentity({"alice-token": "alice"}, "development")
    assert asyncio.run(ident.authenticate("alice-token")).name == "alice"
    with pytest.raises(IdentityError):
        asyncio.run(ident.authenticate("alice-token-x"))
    with pytest.raises(SettingsError, match="refused"):
        DevTokenIdentity({"alice-token": "alice"}, "production")


def test_dev_identity_setting_refused_in_production(tmp_path: Path) -> None:
    prod = load_settings(environment="production", secret_key=STRONG_KEY, data_dir=tmp_path)
    with pytest.raises(SettingsError, match="IDENTITY=dev"):
        load_airlock_settings(prod, identity="dev")
    with pytest.raises(SettingsError, match="DEV_TOKENS"):
        load_airlock_settings(prod, dev_tokens={"a-long-token": "alice"})


@pytest.mark.parametrize(("header", "token"), [
    ("token abc", "abc"), ("Bearer abc", "abc"), ("bearer  abc ", "abc"),
    ("Basic abc", None), ("token", None), (None, None), ("", None),
])
def test_token_from_header(header: str | None, token: str | None) -> None:
    assert token_from_header(header) == token


def test_settings_defaults_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = load_settings(data_dir=tmp_path)
    s = load_airlock_settings(platform)
    assert s.store_dir == tmp_path / "airlock" / "store"
    assert s.max_file_bytes == platform.max_upload_bytes
    assert s.airlock.identity == "hub" and s.port == 8090
    assert s.profile_for("anything") == "default"
    monkeypatch.setenv("TRE_AIRLOCK_PROJECT_PROFILES", json.dumps({"p1": "strict"}))
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/airlock/")
    s = load_airlock_settings(platform)
    assert s.profile_for("p1") == "strict" and s.airlock.base_path == "/services/airlock"
    monkeypatch.setenv("TRE_AIRLOCK_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="TRE_AIRLOCK_PORT"):
        load_airlock_settings(platform)
    monkeypatch.delenv("TRE_AIRLOCK_PORT")
    monkeypatch.setenv("TRE_AIRLOCK_DEV_TOKENS", "{oops")
    with pytest.raises(SettingsError, match="TRE_AIRLOCK_DEV_TOKENS"):
        load_airlock_settings(platform)
