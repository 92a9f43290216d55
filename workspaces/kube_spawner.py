"""The workspace spawner on Kubernetes: KubeSpawner with tre's project logic.

Everything but how the plan is applied is :class:`workspaces.spawner.ProjectSpawner`,
shared with the Docker spawner: the options form, the server-side re-check and its
audit, the membership check in ``poll`` (an ended membership deletes the pod), the
audited stop.  The plan is :func:`workspaces.plan.workspace_spec`, the same value the
Docker spawner applies, expressed as a pod by :func:`workspaces.kube_plan.kube_plan`.

One pod per user x project (``ws-<user>--<project>``), labelled with the project;
home and outputs PVCs per user x project (kept when the pod goes); datasets from
the ReadOnlyMany PVCs the chart makes.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kubespawner import KubeSpawner
from kubespawner.slugs import multi_slug

from workspaces.kube_plan import KubePlan, kube_plan
from workspaces.kube_settings import KubeSettings, load_kube_settings
from workspaces.netpolicy import Pod, confinement_problem, parse_policy
from workspaces.plan import workspace_spec
from workspaces.spawner import ProjectSpawner, SpawnRefused

if TYPE_CHECKING:
    from tre.authz.enforcer import Decision
    from workspaces.plan import DatasetMount


def pod_name(user: str, project: str) -> str:
    """DNS-safe and distinct per user x project (a hash is added when shortened)."""
    return multi_slug(["ws", user, project], max_length=63)  # type: ignore[no-any-return]


def resolve_hosts(*urls: str) -> dict[str, str]:
    """Host name -> IPv4 address, looked up by the hub (workspaces resolve no names)."""
    found: dict[str, str] = {}
    for url in urls:
        host = urlsplit(url).hostname or ""
        try:
            found[host] = str(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
        except OSError as exc:
            raise RuntimeError(f"cannot resolve {host} (from {url}) in the hub: {exc}") from None
    return found


def plan_for(*, user: str, project: str, datasets: list[DatasetMount], image: str,
             ws: Any, kube: KubeSettings, host_aliases: dict[str, str]) -> KubePlan:
    """The one workspace plan, as a pod (pure; ``user`` is the escaped name)."""
    spec = workspace_spec(user=user, project=project, datasets=datasets, settings=ws,
                          hub_connect_url=kube.hub_api_url, airlock_url=kube.airlock_url)
    return kube_plan(spec, kube, image=image, host_aliases=host_aliases)


class KubeWorkspaceSpawner(ProjectSpawner, KubeSpawner):  # type: ignore[misc]
    """One workspace pod: a user in a project (configured by
    :func:`tre.hub.config.configure_kubernetes`)."""

    def _kube_plan(self, project: str, decision: Decision) -> KubePlan:
        kube = load_kube_settings()
        mounts = self._granted(project)
        plan = plan_for(user=self.user.name, project=project, datasets=mounts,
                        image=self.image, ws=self.ctx.workspace, kube=kube,
                        host_aliases=resolve_hosts(kube.hub_api_url, kube.airlock_url))
        self._audit("workspace.spawn", project,
                    {"image": self.image, "datasets": plan.datasets,
                     "pod": pod_name(self.user.name, project),
                     "decision": decision.audit_details()})
        return plan

    def apply_plan(self, project: str, plan: KubePlan) -> None:
        """Set the plan on KubeSpawner's options; new containers: configured ones are
        shared by every spawner."""
        self.pod_name = pod_name(self.user.name, project)
        self.extra_labels = {**self.extra_labels, **plan.labels}  # type: ignore[has-type]
        self.volumes = dict(plan.volumes)
        self.volume_mounts = dict(plan.volume_mounts)
        self.init_containers = dict(plan.init_containers)
        self.container_security_context = plan.container_security_context
        self.pod_security_context = plan.pod_security_context
        self.allow_privilege_escalation = False
        self.privileged = False
        self.automount_service_account_token = False
        self.service_account = None
        self.extra_pod_config = {**self.extra_pod_config,  # type: ignore[has-type]
                                 **plan.extra_pod_config}
        self.environment = {**self.environment, **plan.environment}  # type: ignore[has-type]
        self.hub_connect_url = plan.hub_connect_url
        self.mem_limit = plan.mem_limit
        self.mem_guarantee = plan.mem_limit
        self.cpu_limit = plan.cpu_limit
        if self.pvc_name != plan.home_claim:  # type: ignore[has-type]  # another project: its own home
            self.pvc_name = plan.home_claim
            self._pvc_exists = False

    async def _ensure_outputs_claim(self, plan: KubePlan) -> None:
        """KubeSpawner makes one PVC (the home); the outputs one is made alike."""
        pvc = self.get_pvc_manifest()
        pvc.metadata.name = plan.outputs_claim
        pvc.spec.resources.requests = {"storage": plan.outputs_capacity}
        if not await self._make_create_pvc_request(pvc, self.k8s_api_request_timeout):
            raise RuntimeError(f"could not create the outputs volume {plan.outputs_claim} "
                               "(the Kubernetes API did not answer in time)")

    async def _network_policies(self) -> list[dict[str, Any]]:
        from kubespawner.clients import shared_client

        api = shared_client("NetworkingV1Api")
        found = await api.list_namespaced_network_policy(self.namespace)
        items = api.api_client.sanitize_for_serialization(found).get("items") or []
        return [{**item, "kind": "NetworkPolicy"} for item in items]

    async def check_confined(self, project: str) -> None:
        """Refuse to start a pod the namespace's NetworkPolicies would not confine (as the
        Docker spawner refuses without its firewall): they are read and evaluated
        (workspaces.netpolicy) for this very pod's labels at every start."""
        labels = self._build_pod_labels(self._expand_all(self.extra_labels))
        docs = await self._network_policies()
        policies = [parse_policy(d, self.namespace) for d in docs]
        problem = confinement_problem(policies, Pod(self.pod_name, self.namespace, labels,
                                                    "0.0.0.0"))
        if problem is None:
            return
        await asyncio.to_thread(self._audit, "workspace.spawn.refused", project,
                                {"why": "network not confined", "problem": problem})
        raise SpawnRefused(f"The workspace network is not locked ({problem}); "
                           "ask an operator to install the chart's NetworkPolicies.")

    async def check_datasets(self, plan: KubePlan) -> None:
        """Every granted dataset's claim exists (else the pod would wait for it forever);
        the Docker spawner checks its datasets' directories the same way."""
        from kubernetes_asyncio.client.rest import ApiException
        from tornado import web

        for key, volume in sorted(plan.volumes.items()):
            if not key.startswith("dataset-"):
                continue
            claim = volume["persistentVolumeClaim"]
            try:
                await self.api.read_namespaced_persistent_volume_claim(
                    name=claim["claimName"], namespace=self.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                raise web.HTTPError(500, f"dataset {key.removeprefix('dataset-')} has no "
                                    f"volume: the claim {claim['claimName']} is missing "
                                    "(the chart's datasets value)") from None

    async def start(self) -> Any:
        project = self.user_options.get("project")
        decision = await asyncio.to_thread(self._authorise, project)
        assert isinstance(project, str)
        self._tre_project = project
        plan = await asyncio.to_thread(self._kube_plan, project, decision)
        self.apply_plan(project, plan)
        await self.check_confined(project)
        await self.check_datasets(plan)
        await self._ensure_outputs_claim(plan)
        return await super().start()

    async def _stop_now(self) -> None:
        await KubeSpawner.stop(self, now=True)
