"""JupyterHub's configuration as tre writes it: every security-relevant option.

No hub, no Docker: the configuration is built from the settings and the platform's
database (the users it allows), so this is the integration tier, beside
test_kube_config.py (it sat in tests/e2e, which starts real hubs and workspaces)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from tre.hub.config import (
    CONFIG_FILE_TEXT,
    SERVER_TOKEN_SCOPES,
    HubConfigError,
    authenticator,
    configure,
)
from workspaces.context import reset_hub_context
from workspaces.settings import load_workspace_settings


@pytest.fixture
def hub_env(migrated_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRE_IDLE_TIMEOUT", "600")
    reset_hub_context()
    yield migrated_data_dir
    reset_hub_context()


def test_configure_sets_the_lockdown(hub_env: Path) -> None:
    c = Config()
    configure(c, password="demo-password-123")
    assert c.JupyterHub.spawner_class == "workspaces.spawner.WorkspaceSpawner"
    assert c.DockerSpawner.pull_policy == "never"
    assert c.DockerSpawner.allowed_images == {}
    assert c.DockerSpawner.image == "tre-workspace:latest"
    assert c.DockerSpawner.remove is True
    assert c.Spawner.server_token_scopes == SERVER_TOKEN_SCOPES
    assert c.JupyterHub.hub_connect_ip == "127.0.0.1"
    assert c.JupyterHub.hub_ip == "127.0.0.1"  # workspaces reach the gate, not the API
    assert c.JupyterHub.ip == "127.0.0.1"  # browsers: loopback unless told otherwise
    names = [s["name"] for s in c.JupyterHub.services]
    assert names == ["airlock", "idle-culler", "hub-gate"]
    culler = c.JupyterHub.services[1]["command"]
    assert "--timeout=600" in culler
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert "access:services!service=airlock" in roles["user"]["scopes"]
    assert "delete:servers" in roles["idle-culler"]["scopes"]
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert "alice" in c.Authenticator.allowed_users
    assert str(hub_env / "hub") in c.JupyterHub.db_url


def test_production_refuses_the_shared_password(hub_env: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    c = Config()
    with pytest.raises(HubConfigError, match="production"):
        authenticator(c, load_workspace_settings(), environment="production", users=set(),
                      password="demo-password-123")
    monkeypatch.setenv("TRE_HUB_AUTHENTICATOR", "oauthenticator.generic.GenericOAuthenticator")
    authenticator(c, load_workspace_settings(), environment="production", users=set(),
                  password=None)
    assert c.JupyterHub.authenticator_class == "oauthenticator.generic.GenericOAuthenticator"


def test_the_written_config_is_a_few_lines() -> None:
    code = [line for line in CONFIG_FILE_TEXT.splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(code) <= 5
