"""Start and stop JupyterHub (with its proxy and services) in the background.

The hub runs from its state directory (``<TRE_DATA_DIR>/hub``): configuration,
database, cookie secret, log (``jupyterhub.log``) and pid file live there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tre.hub.config import CONFIG_FILE_TEXT, HubConfigError
from workspaces.settings import WorkspaceSettings

PID_FILE = "jupyterhub.pid"
LOG_FILE = "jupyterhub.log"


def write_config(state: Path) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    path = state / "jupyterhub_config.py"
    if not path.is_file() or path.read_text() != CONFIG_FILE_TEXT:
        path.write_text(CONFIG_FILE_TEXT)
    return path


def public_url(ws: WorkspaceSettings) -> str:
    host = "127.0.0.1" if ws.hub_public_ip in ("", "0.0.0.0") else ws.hub_public_ip
    return f"http://{host}:{ws.hub_public_port}"


def running_pid(state: Path) -> int | None:
    """The pid of the hub started from ``state``, if it is still running."""
    try:
        pid = int((state / PID_FILE).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"jupyterhub" in cmdline else None


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def check_ports(ws: WorkspaceSettings) -> None:
    """Refuse to start when another program holds one of the hub's ports."""
    wanted = [(ws.hub_public_ip or "0.0.0.0", ws.hub_public_port, "TRE_HUB_PUBLIC_PORT"),
              ("127.0.0.1", ws.hub_port, "TRE_HUB_PORT"),
              ("0.0.0.0", ws.hub_gate_port, "TRE_HUB_GATE_PORT"),
              ("0.0.0.0", ws.airlock_port, "TRE_AIRLOCK_PORT"),
              ("127.0.0.1", ws.hub_public_port + 1, "TRE_HUB_PUBLIC_PORT (the proxy's API "
               "uses the next port)")]
    for host, port, variable in wanted:
        if _port_taken(host, port):
            raise HubConfigError(f"port {port} is taken by another program: stop it, or "
                                 f"choose another port with {variable}")


def start_hub(state: Path, ws: WorkspaceSettings, timeout: float = 60.0) -> int:
    """Start the hub (unless it runs already) and wait until it answers; its pid."""
    pid = running_pid(state)
    if pid is not None:
        return pid
    check_ports(ws)
    config = write_config(state)
    jupyterhub = shutil.which("jupyterhub") or str(Path(sys.executable).parent / "jupyterhub")
    log = (state / LOG_FILE).open("ab")
    proc = subprocess.Popen(
        [jupyterhub, "-f", str(config)], cwd=state, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,  # outlives `tre up`
    )
    (state / PID_FILE).write_text(f"{proc.pid}\n")
    url = f"{public_url(ws)}/hub/api/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubConfigError(f"JupyterHub exited (code {proc.returncode}): see "
                                 f"{state / LOG_FILE}\n{_tail(state / LOG_FILE)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return proc.pid
        time.sleep(0.25)
    stop_hub(state)
    raise HubConfigError(f"JupyterHub did not answer at {url} within {timeout:.0f}s: see "
                         f"{state / LOG_FILE}")


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def stop_hub(state: Path, timeout: float = 30.0) -> bool:
    """Stop the hub (it stops the workspaces, proxy and services); False if none ran."""
    pid = running_pid(state)
    if pid is None:
        (state / PID_FILE).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(state) == pid:
        time.sleep(0.2)
    if running_pid(state) == pid:
        os.killpg(pid, signal.SIGKILL)
    (state / PID_FILE).unlink(missing_ok=True)
    return True
