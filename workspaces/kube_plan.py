"""The workspace plan (:class:`workspaces.plan.WorkspaceSpec`) as a Kubernetes pod.

Pure: no cluster is touched.  :mod:`workspaces.kube_spawner` sets these values on
KubeSpawner, which makes the pod.  What Docker does with its flags is done here with
the pod's own fields:

* ``cap_drop ALL``, ``no-new-privileges``, ``read_only``: the container's
  ``securityContext`` (capabilities dropped, ``allowPrivilegeEscalation: false``,
  ``readOnlyRootFilesystem``), plus non-root and seccomp ``RuntimeDefault``;
* the read-only skeleton under ``~/data``: an ``emptyDir`` whose mountpoints an init
  container makes, mounted read-only, with each dataset's ReadOnlyMany PVC mounted
  read-only on its mountpoint (so nothing can be written under ``~/data``);
* home and outputs: one PVC each per user x project;
* the resolv.conf that resolves nothing: ``dnsPolicy: None`` with the pod's own
  loopback as its only name server (or only the internal mirror's, when asked);
  the hub and airlock names come from ``hostAliases`` instead;
* no service-account token, no service links (the environment would list every
  Service of the namespace: who else is there).

The process limit has no per-pod field in Kubernetes: it is the kubelet's
``podPidsLimit`` (docs/kubernetes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspaces.kube_settings import KubeSettings
from workspaces.plan import DATA, HOME, OUTPUTS, WorkspaceSpec

PROJECT_LABEL = "org.tre/project"
COMPONENT = "workspace"
_SCRATCH = "/mnt/mountpoints"


@dataclass(frozen=True)
class KubePlan:
    labels: dict[str, str]
    volumes: dict[str, dict[str, Any]]
    volume_mounts: dict[str, dict[str, Any]]
    init_containers: dict[str, dict[str, Any]]
    container_security_context: dict[str, Any]
    pod_security_context: dict[str, Any]
    extra_pod_config: dict[str, Any]
    environment: dict[str, str]
    hub_connect_url: str
    home_claim: str
    outputs_claim: str
    outputs_capacity: str
    mem_limit: str
    cpu_limit: float
    datasets: list[str]


def container_security_context(spec: WorkspaceSpec) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": spec.uid,
        "runAsGroup": spec.uid,
        "privileged": False,
        "allowPrivilegeEscalation": not spec.no_new_privileges,
        "capabilities": {"drop": list(spec.drop_capabilities)},
        "readOnlyRootFilesystem": spec.read_only_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(spec: WorkspaceSpec) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": spec.uid,
        "runAsGroup": spec.uid,
        "fsGroup": spec.uid,  # fresh home and outputs volumes come up writable by jovyan
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def kube_plan(spec: WorkspaceSpec, settings: KubeSettings, *, image: str,
              host_aliases: dict[str, str]) -> KubePlan:
    """``host_aliases``: host name -> IP of the hub's allow-list and the airlock, looked
    up by the hub (the workspace itself resolves no names)."""
    volumes: dict[str, dict[str, Any]] = {
        "home": {"name": "home", "persistentVolumeClaim": {"claimName": spec.home_volume}},
        "outputs": {"name": "outputs",
                    "persistentVolumeClaim": {"claimName": spec.outputs_volume}},
        "mountpoints": {"name": "mountpoints", "emptyDir": {"sizeLimit": "1Mi"}},
        "tmp": {"name": "tmp", "emptyDir": {"medium": "Memory",
                                            "sizeLimit": f"{spec.tmp_size_mb}Mi"}},
    }
    mounts: dict[str, dict[str, Any]] = {
        "home": {"name": "home", "mountPath": HOME},
        "outputs": {"name": "outputs", "mountPath": OUTPUTS},
        "mountpoints": {"name": "mountpoints", "mountPath": DATA, "readOnly": True},
        "tmp": {"name": "tmp", "mountPath": "/tmp"},
    }
    for ds in spec.datasets:
        key = f"dataset-{ds.name}"
        volumes[key] = {"name": key, "persistentVolumeClaim": {
            "claimName": settings.dataset_claim_prefix + ds.name, "readOnly": True}}
        mounts[key] = {"name": key, "mountPath": f"{DATA}/{ds.name}", "readOnly": True}
    security = container_security_context(spec)
    init: dict[str, dict[str, Any]] = {}
    if spec.datasets:
        init["mountpoints"] = {
            "name": "mountpoints",
            "image": image,
            "imagePullPolicy": settings.image_pull_policy,
            "command": ["mkdir", "-p", "--",
                        *(f"{_SCRATCH}/{ds.name}" for ds in spec.datasets)],
            "securityContext": security,
            "volumeMounts": [{"name": "mountpoints", "mountPath": _SCRATCH}],
            "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
        }
    nameserver = settings.dns_nameserver or "127.0.0.1"
    pod_config: dict[str, Any] = {
        "dnsPolicy": "None",
        "dnsConfig": {"nameservers": [nameserver],
                      "options": [{"name": "timeout", "value": "1"},
                                  {"name": "attempts", "value": "1"}]},
        "enableServiceLinks": False,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "shareProcessNamespace": False,
    }
    by_ip: dict[str, list[str]] = {}
    for host, ip in sorted(host_aliases.items()):
        by_ip.setdefault(ip, []).append(host)
    if by_ip:
        pod_config["hostAliases"] = [{"ip": ip, "hostnames": hosts}
                                     for ip, hosts in sorted(by_ip.items())]
    return KubePlan(
        labels={PROJECT_LABEL: spec.project},
        volumes=volumes,
        volume_mounts=mounts,
        init_containers=init,
        container_security_context=security,
        pod_security_context=pod_security_context(spec),
        extra_pod_config=pod_config,
        environment=dict(spec.environment),
        hub_connect_url=spec.hub_connect_url,
        home_claim=spec.home_volume,
        outputs_claim=spec.outputs_volume,
        outputs_capacity=settings.outputs_capacity,
        mem_limit=spec.mem_limit,  # 2G: 2 GiB for DockerSpawner and KubeSpawner alike
        cpu_limit=spec.cpu_limit,
        datasets=[ds.name for ds in spec.datasets],
    )
