"""What a workspace container is made of, computed without touching Docker.

Pure functions of the project, its datasets, its network and the settings, so the
security-relevant choices (mounts, limits, capabilities) can be read and tested
in one place; :mod:`tre.hub.spawner` applies them.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tre.hub.settings import WorkspaceSettings
from tre.network import ProjectNetwork, container_network_config

HOME = "/home/jovyan"
DATA = f"{HOME}/data"
OUTPUTS = f"{HOME}/outputs"
AIRLOCK_PREFIX = "/services/airlock"


@dataclass(frozen=True)
class DatasetMount:
    name: str
    location: str  # a directory on the host


@dataclass(frozen=True)
class WorkspacePlan:
    project: str
    # DockerSpawner's ``volumes``: host path or volume name -> {"bind": path, "mode": ...}
    volumes: dict[str, dict[str, str]]
    host_config: dict[str, Any]
    environment: dict[str, str]
    hub_connect_url: str
    network: str
    datasets: list[str] = field(default_factory=list)


def workspace_id(user: str, project: str) -> str:
    """An opaque name for a user's workspace in a project, for everything whose name is
    seen inside (volume names and host paths show in /proc/self/mountinfo): no user
    name appears there."""
    return hashlib.sha256(f"{user}\0{project}".encode()).hexdigest()[:20]


def volume_names(prefix: str, user: str, project: str) -> tuple[str, str]:
    """Named volumes of a user's home and outputs in a project (they outlive containers).

    ``prefix`` is the network scope's, so two TREs on one machine never share one.
    """
    key = workspace_id(user, project)
    return f"{prefix}home-{key}", f"{prefix}outputs-{key}"


def make_skeleton(path: Path, datasets: list[DatasetMount]) -> Path:
    """An empty directory per dataset, mounted read-only at ~/data.

    The datasets are mounted on top of these.  Because the parent mount is read-only
    and its mountpoints already exist, nothing under ~/data can be written, not
    even by root in the container, and no dataset but those granted is there.
    """
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    for ds in datasets:
        (path / ds.name).mkdir()
    path.chmod(0o555)
    return path


def plan_workspace(*, user: str, project: str, datasets: list[DatasetMount],
                   net: ProjectNetwork, settings: WorkspaceSettings, skeleton: Path,
                   resolv_conf: Path) -> WorkspacePlan:
    """``user`` is the Docker-safe (escaped) user name."""
    home, outputs = volume_names(settings.network_prefix, user, project)
    volumes: dict[str, dict[str, str]] = {
        home: {"bind": HOME, "mode": "rw"},
        outputs: {"bind": OUTPUTS, "mode": "rw"},
        str(skeleton): {"bind": DATA, "mode": "ro"},
        str(resolv_conf): {"bind": "/etc/resolv.conf", "mode": "ro"},
    }
    for ds in datasets:
        volumes[ds.location] = {"bind": f"{DATA}/{ds.name}", "mode": "ro"}
    host_config: dict[str, Any] = {
        **container_network_config(net),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": settings.workspace_pids_limit,
        "memswap_limit": settings.workspace_mem_limit,  # no swap beyond the memory limit
        # The image is not writable; only the home and outputs volumes and /tmp are.
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=1g"},
        "init": True,  # reap the kernels' orphans
    }
    environment = {
        "TRE_PROJECT": project,
        "TRE_AIRLOCK_URL": f"http://{net.gateway}:{settings.airlock_port}{AIRLOCK_PREFIX}",
    }
    return WorkspacePlan(
        project=project,
        volumes=volumes,
        host_config=host_config,
        environment=environment,
        # the hub gate (tre.hub.gate), not the hub API itself
        hub_connect_url=f"http://{net.gateway}:{settings.hub_gate_port}",
        network=net.name,
        datasets=[ds.name for ds in datasets],
    )
