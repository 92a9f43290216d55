"""What a workspace is made of, computed without touching Docker or Kubernetes.

Pure functions of the project, its datasets, its network and the settings, so the
security-relevant choices (mounts, limits, capabilities) can be read and tested
in one place.  :func:`workspace_spec` is the one plan both spawners share;
:func:`docker_plan` (applied by :mod:`workspaces.spawner`) and
:func:`workspaces.kube_plan.kube_plan` (applied by :mod:`workspaces.kube_spawner`) differ
only in how they express it.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tre.catalog.tiers import Limits, workspace_limits
from workspaces.network import ProjectNetwork, container_network_config
from workspaces.settings import WorkspaceSettings

HOME = "/home/jovyan"
DATA = f"{HOME}/data"
OUTPUTS = f"{HOME}/outputs"
AIRLOCK_PREFIX = "/services/airlock"


@dataclass(frozen=True)
class DatasetMount:
    name: str
    location: str  # a directory on the host
    tier: int = 0  # its sensitivity tier: caps the workspace (tre.catalog.tiers)


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


@dataclass(frozen=True)
class WorkspaceSpec:
    """What one workspace is, whichever spawner applies it (Docker or Kubernetes).

    Both spawners start from this one value (:func:`workspace_spec`); the lock-down
    (non-root, no capabilities, no privilege escalation, read-only image, a small
    writable ``/tmp``) is fixed here and not a setting, so no configuration of either
    spawner can loosen it.  :func:`plan_workspace` turns it into DockerSpawner's
    options, :func:`workspaces.kube_plan.kube_plan` into a pod's.
    """

    user: str  # the spawner-safe (escaped) user name
    project: str
    datasets: tuple[DatasetMount, ...]
    home_volume: str
    outputs_volume: str
    environment: dict[str, str]
    hub_connect_url: str
    mem_limit: str
    cpu_limit: float
    pids_limit: int
    uid: int = 1000
    tmp_size_mb: int = 1024
    drop_capabilities: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    read_only_root: bool = True

    def mounts(self) -> dict[str, tuple[str, bool]]:
        """Container path -> (what is mounted there, read-only?), the same for both."""
        found = {HOME: (self.home_volume, False), OUTPUTS: (self.outputs_volume, False),
                 DATA: ("dataset mountpoints", True)}
        for ds in self.datasets:
            found[f"{DATA}/{ds.name}"] = (f"dataset {ds.name}", True)
        return found


def workspace_spec(*, user: str, project: str, datasets: list[DatasetMount],
                   settings: WorkspaceSettings, hub_connect_url: str,
                   airlock_url: str) -> WorkspaceSpec:
    """The one plan of a workspace; ``airlock_url`` is the airlock's base URL as the
    workspace reaches it (its service prefix is added here)."""
    home, outputs = volume_names(settings.network_prefix, user, project)
    limits = workspace_limits((d.tier for d in datasets), Limits(
        settings.workspace_mem_limit, settings.workspace_cpu_limit,
        settings.workspace_pids_limit))
    return WorkspaceSpec(
        user=user, project=project, datasets=tuple(datasets),
        home_volume=home, outputs_volume=outputs,
        environment={"TRE_PROJECT": project,
                     "TRE_AIRLOCK_URL": f"{airlock_url.rstrip('/')}{AIRLOCK_PREFIX}"},
        hub_connect_url=hub_connect_url,
        mem_limit=limits.mem_limit,
        cpu_limit=limits.cpu_limit,
        pids_limit=limits.pids_limit,
    )


def plan_workspace(*, user: str, project: str, datasets: list[DatasetMount],
                   net: ProjectNetwork, settings: WorkspaceSettings, skeleton: Path,
                   resolv_conf: Path) -> WorkspacePlan:
    """``user`` is the Docker-safe (escaped) user name."""
    # The hub gate (workspaces.gate), never the hub API itself.
    spec = workspace_spec(user=user, project=project, datasets=datasets, settings=settings,
                          hub_connect_url=f"http://{net.gateway}:{settings.hub_gate_port}",
                          airlock_url=f"http://{net.gateway}:{settings.airlock_port}")
    return docker_plan(spec, net=net, skeleton=skeleton, resolv_conf=resolv_conf)


def docker_plan(spec: WorkspaceSpec, *, net: ProjectNetwork, skeleton: Path,
                resolv_conf: Path) -> WorkspacePlan:
    """DockerSpawner's options for ``spec`` on the project's network."""
    volumes: dict[str, dict[str, str]] = {
        spec.home_volume: {"bind": HOME, "mode": "rw"},
        spec.outputs_volume: {"bind": OUTPUTS, "mode": "rw"},
        str(skeleton): {"bind": DATA, "mode": "ro"},
        str(resolv_conf): {"bind": "/etc/resolv.conf", "mode": "ro"},
    }
    for ds in spec.datasets:
        volumes[ds.location] = {"bind": f"{DATA}/{ds.name}", "mode": "ro"}
    host_config: dict[str, Any] = {
        **container_network_config(net),
        "cap_drop": list(spec.drop_capabilities),
        "security_opt": ["no-new-privileges"] if spec.no_new_privileges else [],
        "pids_limit": spec.pids_limit,
        "mem_limit": spec.mem_limit,  # the spec's (a tier may cap the deployment's)
        "memswap_limit": spec.mem_limit,  # no swap beyond the memory limit
        "cpu_period": 100_000,
        "cpu_quota": int(spec.cpu_limit * 100_000),
        # The image is not writable; only the home and outputs volumes and /tmp are.
        "read_only": spec.read_only_root,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={spec.tmp_size_mb}m"},
        "init": True,  # reap the kernels' orphans
    }
    return WorkspacePlan(
        project=spec.project,
        volumes=volumes,
        host_config=host_config,
        environment=dict(spec.environment),
        hub_connect_url=spec.hub_connect_url,
        network=net.name,
        datasets=[ds.name for ds in spec.datasets],
    )
