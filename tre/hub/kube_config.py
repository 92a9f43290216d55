"""JupyterHub configuration on Kubernetes (the ``helm/tre`` chart), as functions.

The chart's ``jupyterhub_config.py`` is :data:`KUBE_CONFIG_FILE_TEXT`.  What is not
about where things run is shared with :func:`tre.hub.config.configure`: the
services' roles, the idle culler, the token scopes, the limits, the membership
check, the authenticator.  What differs: the airlock is a Deployment of its own
(an external hub service), workspaces are pods made by
:class:`workspaces.kube_spawner.KubeWorkspaceSpawner`, and the network lock is the
chart's NetworkPolicies instead of workspaces.network's firewall.
"""

from __future__ import annotations

import os
from typing import Any

from tre.hub.config import (
    AIRLOCK,
    HubConfigError,
    authenticator,
    proxy_command,
    roles,
    services,
    shared_spawner,
)
from workspaces.kube_plan import COMPONENT
from workspaces.kube_settings import KubeSettings, load_kube_settings

KUBE_CONFIG_FILE_TEXT = '''\
# The helm/tre chart's hub configuration: tre.hub.kube_config.configure_kubernetes.
from tre.hub.config import extra_config
from tre.hub.kube_config import configure_kubernetes

configure_kubernetes(c)  # noqa: F821 (c is given by JupyterHub)
if extra_config() is not None:
    load_subconfig(str(extra_config()))  # noqa: F821
'''
# The airlock's hub API token: the chart generates it into a Secret that both the hub
# and the airlock pods read.
AIRLOCK_TOKEN_ENV = "TRE_KUBE_AIRLOCK_API_TOKEN"
DEMO_PASSWORD_ENV = "TRE_HUB_DEMO_PASSWORD"


def workspace_labels(kube: KubeSettings) -> dict[str, str]:
    """The labels every workspace pod carries, which the chart's policies select on."""
    return {"app.kubernetes.io/name": "tre", "app.kubernetes.io/instance": kube.instance,
            "app.kubernetes.io/managed-by": "kubespawner"}


def kube_services(c: Any, ws: Any, kube: KubeSettings) -> list[dict[str, Any]]:
    """The airlock as an external service (its own pods); the culler and the hub gate as
    the hub's own."""
    token = os.environ.get(AIRLOCK_TOKEN_ENV, "")
    if len(token) < 32:
        raise HubConfigError(f"{AIRLOCK_TOKEN_ENV} must hold the airlock's hub token "
                             "(32 characters or more; the chart generates it)")
    airlock, culler, gate = services(ws, {})
    external = {"name": AIRLOCK, "url": kube.airlock_url, "api_token": token,
                "oauth_no_confirm": airlock["oauth_no_confirm"], "display": airlock["display"],
                "oauth_client_id": f"service-{AIRLOCK}",
                "oauth_redirect_uri": f"/services/{AIRLOCK}/oauth_callback"}
    # The hub gate (workspaces.gate) runs in the hub's pod as in Docker: the allow-list port
    # is the only part of the hub the workspaces' NetworkPolicy lets them reach.
    return [external, culler, gate]


def kube_spawner(c: Any, ws: Any, kube: KubeSettings) -> None:
    shared_spawner(c, ws)
    c.JupyterHub.spawner_class = "workspaces.kube_spawner.KubeWorkspaceSpawner"
    c.KubeSpawner.image = ws.workspace_image
    c.KubeSpawner.image_pull_policy = kube.image_pull_policy
    c.KubeSpawner.profile_list = []  # users cannot choose an image or a size
    c.KubeSpawner.component_label = COMPONENT
    c.KubeSpawner.common_labels = workspace_labels(kube)
    c.KubeSpawner.slug_scheme = "safe"
    c.KubeSpawner.storage_pvc_ensure = True  # the home PVC; the spawner adds the outputs one
    c.KubeSpawner.storage_capacity = kube.home_capacity
    if kube.storage_class:  # unset: the cluster's default class ("" would mean none)
        c.KubeSpawner.storage_class = kube.storage_class
    c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
    c.KubeSpawner.delete_pvc = False  # home and outputs outlive a deleted user, as volumes do
    c.KubeSpawner.automount_service_account_token = False
    c.KubeSpawner.services_enabled = False
    c.KubeSpawner.port = 8888


def configure_kubernetes(c: Any) -> None:
    """Configure JupyterHub ``c`` inside the chart's hub pod from the TRE_* settings."""
    from workspaces.context import hub_context, hub_state_dir

    ctx = hub_context()
    ws, settings = ctx.workspace, ctx.settings
    kube = load_kube_settings()
    state = hub_state_dir(settings)  # on the hub's PVC
    state.mkdir(parents=True, exist_ok=True)
    # The proxy (in this pod) is the public door, behind the chart's Service; the hub
    # API listens on the pod's address for the airlock pods (the NetworkPolicy admits
    # them only), the allow-list port for workspaces.
    c.JupyterHub.ip = "0.0.0.0"
    c.JupyterHub.port = ws.hub_public_port
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_port = ws.hub_port
    c.JupyterHub.hub_connect_ip = "127.0.0.1"  # the proxy and the culler, in this pod
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{ws.hub_public_port + 1}"
    c.ConfigurableHTTPProxy.command = proxy_command()
    c.JupyterHub.services = kube_services(c, ws, kube)
    c.JupyterHub.load_roles = roles()
    kube_spawner(c, ws, kube)
    authenticator(c, ws, environment=settings.environment,
                  users=ctx.authz.policy.users(),
                  password=os.environ.get(DEMO_PASSWORD_ENV))
