"""Workspace pods as the real KubeSpawner makes them, without a cluster.

KubeSpawner loads a kube config when it is made; the one written here points at a
port nothing listens on, and nothing here talks to it: ``get_pod_manifest`` only
builds the pod.  Used by the unit tests of the plan and by the chart's tests (whose
NetworkPolicies must select these very pods).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from traitlets.config import Config

from workspaces.kube_plan import KubePlan
from workspaces.kube_settings import KubeSettings
from workspaces.plan import DatasetMount
from workspaces.settings import WorkspaceSettings

_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: unused-by-these-tests}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: tre}}]
current-context: none
"""


def offline_kubeconfig(directory: Path) -> str:
    path = directory / "kubeconfig"
    path.write_text(_KUBECONFIG)
    return str(path)


def offline_spawner(ws: WorkspaceSettings, kube: KubeSettings) -> Any:
    """A KubeWorkspaceSpawner configured by tre.hub.kube_config, made without a cluster."""
    from kubernetes_asyncio.config import kube_config

    from tre.hub.kube_config import kube_spawner
    from workspaces.kube_spawner import KubeWorkspaceSpawner

    c = Config()
    kube_spawner(c, ws, kube)
    # kubernetes_asyncio reads KUBECONFIG when imported, so point its default at the
    # offline file for the moment KubeSpawner loads it.
    with tempfile.TemporaryDirectory() as tmp:
        before = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = offline_kubeconfig(Path(tmp))
        try:
            return KubeWorkspaceSpawner(_mock=True, config=c)
        finally:
            kube_config.KUBE_CONFIG_DEFAULT_LOCATION = before


def workspace_pod(*, user: str, project: str, datasets: list[DatasetMount],
                  ws: WorkspaceSettings, kube: KubeSettings,
                  aliases: dict[str, str] | None = None) -> tuple[KubePlan, dict[str, Any]]:
    """(the plan, the pod KubeSpawner makes of it as a plain dict), configured by
    tre.hub.kube_config's spawner options."""
    from kubernetes_asyncio.client import ApiClient

    from workspaces.kube_spawner import plan_for

    async def build() -> tuple[KubePlan, dict[str, Any]]:
        spawner = offline_spawner(ws, kube)
        spawner.user.name = user
        plan = plan_for(user=user, project=project, datasets=datasets, image=spawner.image,
                        ws=ws, kube=kube, host_aliases=aliases or {})
        spawner.apply_plan(project, plan)
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as api:
            return plan, api.sanitize_for_serialization(pod)

    return asyncio.run(build())
