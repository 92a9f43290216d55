"""JupyterHub configuration, as functions.

The ``jupyterhub_config.py`` that ``tre up`` writes (:data:`CONFIG_FILE_TEXT`) is::

    from tre.hub.config import configure
    configure(c)

Every option set here is explained where it is set.  Deployments add or override
options in their own file, ``TRE_HUB_EXTRA_CONFIG``, loaded after this (that is
where a production authenticator is configured: see docs/authentication.md).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tre.errors import TreError
from workspaces.settings import SHARED_PASSWORD, WorkspaceSettings

if TYPE_CHECKING:
    from tre.settings import Settings

AIRLOCK = "airlock"
CULLER = "idle-culler"
GATE = "hub-gate"
# What the workspace's own token (JUPYTERHUB_API_TOKEN) may do: report activity, and
# reach the airlock so that the client inside can submit.  Nothing more.
SERVER_TOKEN_SCOPES = [f"access:services!service={AIRLOCK}", "users:activity!user"]

CONFIG_FILE_TEXT = '''\
# Written by `tre up`; the configuration itself is tre.hub.config.configure.
# Put your own options in the file named by TRE_HUB_EXTRA_CONFIG, not here.
from tre.hub.config import configure, extra_config

configure(c)  # noqa: F821 (c is given by JupyterHub)
if extra_config() is not None:
    load_subconfig(str(extra_config()))  # noqa: F821
'''


class HubConfigError(TreError, RuntimeError):
    """The hub cannot be configured as asked; the message says what to change."""

    code = "hub_config"
    status = 500


def extra_config() -> Path | None:
    from workspaces.settings import load_workspace_settings

    return load_workspace_settings().hub_extra_config


def proxy_command() -> list[str]:
    found = shutil.which("configurable-http-proxy")
    if found is None:
        raise HubConfigError("configurable-http-proxy is not installed: "
                             "npm install -g configurable-http-proxy")
    return [found]


def service_environment(settings: Settings) -> dict[str, str]:
    """The TRE_* settings of this process, for the services the hub starts (the hub
    passes them little of its own environment)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("TRE_")}
    return {**env, "TRE_DATA_DIR": str(settings.data_dir),
            "TRE_DATABASE_URL": settings.database_url}


def services(ws: WorkspaceSettings, env: dict[str, str]) -> list[dict[str, Any]]:
    """The airlock (a hub service: hub OAuth for its pages, hub tokens for its API), the
    idle culler and the hub gate."""
    airlock = {
        "name": AIRLOCK,
        "url": f"http://127.0.0.1:{ws.airlock_port}",
        "command": [sys.executable, "-m", "tre.cli", "airlock", "serve"],
        # Workspaces reach it on their network's gateway, so it listens on every
        # address; the firewall limits who may connect (workspaces.network).
        # A hub token from a workspace network's address is a call from inside
        # (airlock.origin): the workspaces' own range, unless the operator set it.
        "environment": {**env, "TRE_AIRLOCK_HOST": "0.0.0.0",
                        "TRE_AIRLOCK_PORT": str(ws.airlock_port),
                        "TRE_AIRLOCK_WORKSPACE_NETWORKS": env.get(
                            "TRE_AIRLOCK_WORKSPACE_NETWORKS", ws.workspace_subnets)},
        "oauth_no_confirm": True,
        "display": True,
    }
    culler = {
        "name": CULLER,
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={ws.idle_timeout}",
                    f"--cull-every={max(10, min(300, ws.idle_timeout // 4))}"],
    }
    # The only part of the hub workspaces reach: an allow-list in front of the hub API,
    # which itself listens on loopback (workspaces.gate).
    gate = {
        "name": GATE,
        "command": [sys.executable, "-m", "workspaces.gate", str(ws.hub_gate_port),
                    f"http://127.0.0.1:{ws.hub_port}"],
    }
    return [airlock, culler, gate]


def roles() -> list[dict[str, Any]]:
    return [
        # Users may use the airlock (its pages and API) besides their own things.
        {"name": "user", "scopes": ["self", f"access:services!service={AIRLOCK}"]},
        {"name": CULLER, "services": [CULLER],
         "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    ]


def authenticator(c: Any, ws: WorkspaceSettings, *, environment: str, users: set[str],
                  password: str | None) -> None:
    """Demo: one shared password for the demo users.  Otherwise: the class named by
    TRE_HUB_AUTHENTICATOR, configured in TRE_HUB_EXTRA_CONFIG."""
    if ws.hub_authenticator != SHARED_PASSWORD:
        c.JupyterHub.authenticator_class = ws.hub_authenticator
        return
    if environment == "production":
        raise HubConfigError("TRE_ENVIRONMENT=production refuses the demo's shared password: "
                             "set TRE_HUB_AUTHENTICATOR (see docs/authentication.md)")
    if not password:
        raise HubConfigError("the shared-password authenticator needs the demo password "
                             "(written by `tre up`)")
    c.JupyterHub.authenticator_class = SHARED_PASSWORD
    c.SharedPasswordAuthenticator.user_password = password
    c.Authenticator.allowed_users = users


TEMPLATES = Path(__file__).parent / "templates"  # spawn.html: no Start without a project


def shared_spawner(c: Any, ws: WorkspaceSettings) -> None:
    c.JupyterHub.template_paths = [str(TEMPLATES)]
    """What both spawners (Docker and Kubernetes) are given alike."""
    c.Spawner.mem_limit = ws.workspace_mem_limit
    c.Spawner.cpu_limit = ws.workspace_cpu_limit
    c.Spawner.notebook_dir = "/home/jovyan"
    c.Spawner.default_url = "/lab"
    # poll() re-checks the membership: an ended one stops the workspace this often.
    c.Spawner.poll_interval = ws.membership_check
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    # One workspace per user at a time; its project is chosen in the options form.
    c.JupyterHub.allow_named_servers = False


def spawner(c: Any, ws: WorkspaceSettings) -> None:
    shared_spawner(c, ws)
    c.JupyterHub.spawner_class = "workspaces.spawner.WorkspaceSpawner"
    c.DockerSpawner.image = ws.workspace_image
    c.DockerSpawner.allowed_images = {}  # users cannot choose an image: only this one runs
    c.DockerSpawner.pull_policy = "never"  # no registry: the image is built here
    c.DockerSpawner.remove = True  # fresh container each start; data lives in volumes
    # Named after the network scope too, so two TREs on one machine never collide.
    c.DockerSpawner.name_template = ws.network_prefix + "{username}-{project}"


def configure(c: Any, *, password: str | None = None) -> None:
    """Configure JupyterHub ``c`` for tre from the TRE_* settings."""
    from tre.demo.seed import read_demo_password
    from workspaces.context import hub_context, hub_state_dir

    ctx = hub_context()
    ws, settings = ctx.workspace, ctx.settings
    state = hub_state_dir(settings)
    state.mkdir(parents=True, exist_ok=True)
    # The proxy is the only public door.  The hub API listens on loopback only: the
    # proxy and services talk to it there, and workspaces reach the hub gate instead
    # (on their network's gateway; an allow-list of the few calls a single-user server
    # makes), which the firewall admits them to (workspaces.network).
    c.JupyterHub.ip = ws.hub_public_ip
    c.JupyterHub.port = ws.hub_public_port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = ws.hub_port
    c.JupyterHub.hub_connect_ip = "127.0.0.1"
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    # The proxy's own API: loopback, on the port after the public one.
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{ws.hub_public_port + 1}"
    c.ConfigurableHTTPProxy.command = proxy_command()
    c.JupyterHub.services = services(ws, service_environment(settings))
    c.JupyterHub.load_roles = roles()
    spawner(c, ws)
    authenticator(c, ws, environment=settings.environment,
                  users=ctx.authz.policy.users(),
                  password=password if password is not None else read_demo_password(state))
