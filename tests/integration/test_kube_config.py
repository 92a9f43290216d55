"""The hub on Kubernetes is configured by the same functions as with Docker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from tre.hub.config import SERVER_TOKEN_SCOPES, HubConfigError, configure
from tre.hub.kube_config import AIRLOCK_TOKEN_ENV, DEMO_PASSWORD_ENV, configure_kubernetes
from workspaces.context import reset_hub_context


@pytest.fixture
def hub_env(migrated_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRE_IDLE_TIMEOUT", "600")
    monkeypatch.setenv("TRE_MEMBERSHIP_CHECK", "20")
    monkeypatch.setenv("TRE_KUBE_INSTANCE", "trial")
    monkeypatch.setenv("TRE_KUBE_AIRLOCK_URL", "http://trial-airlock:8090")
    monkeypatch.setenv(AIRLOCK_TOKEN_ENV, "t" * 40)
    monkeypatch.setenv(DEMO_PASSWORD_ENV, "demo-password-123")
    reset_hub_context()
    yield migrated_data_dir
    reset_hub_context()


def test_both_hubs_share_the_spawner_options_the_services_and_the_roles(hub_env: Path) -> None:
    docker, kube = Config(), Config()
    configure(docker, password="demo-password-123")
    configure_kubernetes(kube)
    assert kube.JupyterHub.spawner_class == "workspaces.kube_spawner.KubeWorkspaceSpawner"
    # every option of the shared spawner section is the same, limits and culler included
    assert dict(kube.Spawner) == dict(docker.Spawner)
    assert kube.Spawner.server_token_scopes == SERVER_TOKEN_SCOPES
    assert kube.Spawner.poll_interval == 20
    assert kube.JupyterHub.load_roles == docker.JupyterHub.load_roles
    assert kube.JupyterHub.allow_named_servers is False
    airlock, culler, gate = kube.JupyterHub.services
    assert culler == docker.JupyterHub.services[1]
    # the same allow-list gate as in Docker, on the port the chart's workspaces may reach
    assert gate == docker.JupyterHub.services[2]
    assert gate["command"][-2:] == ["8082",
                                    f"http://127.0.0.1:{kube.JupyterHub.hub_port}"]
    assert "--timeout=600" in culler["command"]
    # the airlock runs in pods of its own: an external service, no command
    assert "command" not in airlock and airlock["url"] == "http://trial-airlock:8090"
    assert kube.KubeSpawner.profile_list == []
    assert kube.KubeSpawner.automount_service_account_token is False
    assert kube.KubeSpawner.common_labels["app.kubernetes.io/instance"] == "trial"


def test_the_airlock_token_must_be_given(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AIRLOCK_TOKEN_ENV, "short")
    with pytest.raises(HubConfigError, match=AIRLOCK_TOKEN_ENV):
        configure_kubernetes(Config())


def test_production_refuses_the_shared_password_on_kubernetes(
        hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", "4f1c9e2b7a6d3058e1b2c4d6f8a0913e57b2d4c6")
    reset_hub_context()
    from tre.settings import reset_settings

    reset_settings()
    with pytest.raises(HubConfigError, match="production"):
        configure_kubernetes(Config())
