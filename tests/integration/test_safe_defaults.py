"""Safe defaults (issue 13): a deployment that forgets TRE_ENVIRONMENT is a production one,
with no static tokens and no development login; the API's description needs a login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.settings import load_airlock_settings
from tests.harness.airlock import Api, Harness, api_env
from tre.settings import SettingsError, get_settings, reset_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    url = f"sqlite:///{tmp_path / 'tre.db'}"
    from tre.db import upgrade

    upgrade(url)
    with api_env(url, tmp_path / "data") as env:
        yield env


def test_without_tre_environment_static_tokens_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRE_ENVIRONMENT")
    reset_settings()
    assert get_settings().environment == "production"
    with pytest.raises(SettingsError, match="IDENTITY=dev"):
        load_airlock_settings(identity="dev")
    with pytest.raises(SettingsError, match="DEV_TOKENS is refused outside development"):
        load_airlock_settings(dev_tokens={"alice-dev-token": "alice"})


@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_api_description_needs_a_login(env: tuple[Api, Harness], path: str) -> None:
    api, _ = env
    anonymous = api.client.get(path)
    assert anonymous.status_code == 401
    assert "paths" not in anonymous.text
    logged_in = api.get("alice", path)
    assert logged_in.status_code == 200
    if path.endswith(".json"):
        assert "/api/requests" in logged_in.json()["paths"]
    else:
        assert "/api/openapi.json" in logged_in.text


def test_serve_in_production_without_a_secret_key_is_refused_in_a_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from tre.cli import app

    monkeypatch.delenv("TRE_ENVIRONMENT")
    monkeypatch.setenv("TRE_DATA_DIR", str(tmp_path))
    reset_settings()
    result = CliRunner().invoke(app, ["airlock", "serve"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: TRE_SECRET_KEY is not set: production signs its "
                                    "sessions with a secret you provide")
    assert "Traceback" not in result.output


def test_tre_up_refuses_production_without_a_key_or_with_the_demo_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tre.hub.up import UpError, bring_up

    monkeypatch.delenv("TRE_ENVIRONMENT")
    monkeypatch.setenv("TRE_DATA_DIR", str(tmp_path))
    reset_settings()
    with pytest.raises(UpError, match=r"production \(the default\) refuses the demo's shared "
                                      r"password.*TRE_ENVIRONMENT=development for the demo"):
        bring_up(lambda _line: None)
    monkeypatch.setenv("TRE_HUB_AUTHENTICATOR", "oauthenticator.generic.GenericOAuthenticator")
    with pytest.raises(UpError, match="TRE_SECRET_KEY is not set"):
        bring_up(lambda _line: None)
