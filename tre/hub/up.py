"""``tre up`` and ``tre down``: the whole TRE on this machine, idempotently.

Up: the Docker engine (started when it is not running and it can be), the demo
data and catalog, the workspace image (cached), the firewall, then JupyterHub
with the airlock and the idle culler.  Each step that cannot be done stops with a
sentence saying what and how to fix it (:class:`UpError`).

Down: the hub (which stops the workspaces, the proxy and its services), the
workspace networks and the firewall rules.  Data, volumes and images stay.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tre.errors import TreError
from workspaces.settings import SHARED_PASSWORD, WorkspaceSettings

REPO = Path(__file__).resolve().parents[2]
Echo = Callable[[str], None]


class UpError(TreError, RuntimeError):
    """A step of ``tre up`` or ``tre down`` that cannot be done; says what to do."""

    code = "up"
    status = 500


@dataclass
class UpResult:
    url: str
    seconds: float
    users: list[str] = field(default_factory=list)
    password: str | None = None


def ensure_docker(ws: WorkspaceSettings, echo: Echo) -> None:
    """The engine answers, or is started with scripts/docker-engine, or UpError."""
    def answers() -> bool:
        try:
            return subprocess.run([ws.docker, "info"], capture_output=True,
                                  check=False).returncode == 0
        except OSError:
            return False

    if answers():
        return
    script = REPO / "scripts" / "docker-engine"
    if not script.is_file():
        raise UpError("the Docker engine is not running: start it (e.g. systemctl start docker)")
    echo("starting the Docker engine")
    proc = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not answers():
        raise UpError((proc.stderr or proc.stdout).strip().removeprefix("error: ")
                      or "the Docker engine did not start")


def bring_up(echo: Echo) -> UpResult:
    from tre.clock import SystemClock
    from tre.demo import seed as demo
    from tre.hub import run
    from tre.image import build
    from tre.settings import get_settings
    from workspaces.context import hub_context, hub_state_dir
    from workspaces.network import apply_firewall
    from workspaces.settings import load_workspace_settings

    started = time.monotonic()
    settings, ws = get_settings(), load_workspace_settings()
    is_demo = ws.hub_authenticator == SHARED_PASSWORD
    if is_demo and settings.environment == "production":
        raise UpError("TRE_ENVIRONMENT=production (the default) refuses the demo's shared "
                      "password: set TRE_HUB_AUTHENTICATOR (see docs/authentication.md), or "
                      "TRE_ENVIRONMENT=development for the demo (scripts/up does)")
    if not is_demo:  # the airlock's pages sign sessions: refuse now, not in a service log
        from airlock.ui.session import secret_key
        from tre.settings import SettingsError

        try:
            secret_key(settings)
        except SettingsError as exc:
            raise UpError(str(exc)) from None
    ensure_docker(ws, echo)
    state = hub_state_dir(settings)
    ctx = hub_context()
    if is_demo:
        clock = SystemClock()
        locations = demo.write_demo_data(settings.data_dir / "demo")
        for line in demo.seed(ctx.factory, clock, locations):
            echo(f"demo: {line}")
    image = build(ws)
    echo(f"image: {image.tag} ({image.seconds:.1f}s)")
    apply_firewall(ctx.firewall_ports, ctx.scope)
    echo(f"firewall: workspaces may reach ports {', '.join(map(str, ctx.firewall_ports))} only")
    password = demo.demo_password(state) if is_demo else None
    run.start_hub(state, ws)
    users = sorted(ctx.authz.policy.users()) if is_demo else []
    return UpResult(run.public_url(ws), time.monotonic() - started, users, password)


def bring_down(echo: Echo) -> None:
    from tre.hub import run
    from tre.settings import get_settings
    from workspaces.context import hub_state_dir
    from workspaces.network import Scope, list_networks, remove_firewall, remove_network_named
    from workspaces.settings import load_workspace_settings

    settings, ws = get_settings(), load_workspace_settings()
    if run.stop_hub(hub_state_dir(settings)):
        echo("hub stopped (and its workspaces)")
    scope = Scope(ws.network_prefix)
    import docker

    try:
        api = docker.APIClient(version="auto")
        for net in list_networks(api, scope):
            remove_network_named(api, net.name)
            echo(f"network {net.name} removed")
    except docker.errors.DockerException as exc:  # no engine: no networks to remove
        echo(f"networks: skipped ({type(exc).__name__}: {exc})")
    remove_firewall(scope)
    echo("firewall rules removed; data, volumes and images are kept")
