"""The Docker and Kubernetes spawners share one plan and differ only in how they apply it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kube_pods import workspace_pod
from tre.settings import SettingsError
from workspaces.kube_plan import PROJECT_LABEL, kube_plan
from workspaces.kube_settings import load_kube_settings
from workspaces.network import ProjectNetwork
from workspaces.plan import DatasetMount, docker_plan, plan_workspace, volume_names, workspace_spec
from workspaces.settings import load_workspace_settings

pytestmark = pytest.mark.unit

NET = ProjectNetwork("demo", "tre-ws-demo", "tre-ws-1234", "172.30.0.0/24", "172.30.0.1")
DATASETS = [DatasetMount("patients", "/srv/data/patients"), DatasetMount("drugs", "/srv/d")]


def _spec() -> Any:
    return workspace_spec(user="alice", project="demo", datasets=DATASETS,
                          settings=load_workspace_settings(), hub_connect_url="http://h:1",
                          airlock_url="http://a:2")


def test_both_plans_mount_the_same_paths_with_the_same_modes(tmp_path: Path) -> None:
    spec = _spec()
    docker = docker_plan(spec, net=NET, skeleton=tmp_path / "skel", resolv_conf=tmp_path / "r")
    kube = kube_plan(spec, load_kube_settings(), image="img", host_aliases={})
    docker_mounts = {v["bind"]: v["mode"] == "ro" for v in docker.volumes.values()
                     if v["bind"] != "/etc/resolv.conf"}
    kube_mounts = {m["mountPath"]: bool(m.get("readOnly")) for m in kube.volume_mounts.values()
                   if m["mountPath"] != "/tmp"}
    expected = {path: ro for path, (_, ro) in spec.mounts().items()}
    assert docker_mounts == kube_mounts == expected
    assert expected == {"/home/jovyan": False, "/home/jovyan/outputs": False,
                        "/home/jovyan/data": True, "/home/jovyan/data/patients": True,
                        "/home/jovyan/data/drugs": True}
    # the same per-user-per-project volumes: Docker volumes, Kubernetes claims
    # (opaque names: no user name shows in a workspace's mountinfo)
    home, outputs = volume_names("tre-ws-", "alice", "demo")
    assert home.startswith("tre-ws-home-") and "alice" not in home
    assert docker.volumes[home]["bind"] == "/home/jovyan"
    assert (kube.home_claim, kube.outputs_claim) == (home, outputs)
    assert docker.environment == kube.environment == {
        "TRE_PROJECT": "demo", "TRE_AIRLOCK_URL": "http://a:2/services/airlock"}
    assert docker.hub_connect_url == kube.hub_connect_url == "http://h:1"
    assert docker.datasets == kube.datasets == ["patients", "drugs"]


def test_both_plans_lock_the_workspace_down_alike(tmp_path: Path) -> None:
    spec = _spec()
    hc = docker_plan(spec, net=NET, skeleton=tmp_path / "s", resolv_conf=tmp_path / "r").host_config
    kube = kube_plan(spec, load_kube_settings(), image="img", host_aliases={})
    sc = kube.container_security_context
    assert hc["cap_drop"] == sc["capabilities"]["drop"] == ["ALL"]
    assert hc["security_opt"] == ["no-new-privileges"] and sc["allowPrivilegeEscalation"] is False
    assert hc["read_only"] is sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert hc["tmpfs"]["/tmp"].endswith("size=1024m")
    assert kube.volumes["tmp"]["emptyDir"]["sizeLimit"] == "1024Mi"
    assert hc["memswap_limit"] == kube.mem_limit == "2G"
    # the read-only dataset PVCs, named by the chart's prefix
    assert kube.volumes["dataset-patients"]["persistentVolumeClaim"] == {
        "claimName": "tre-dataset-patients", "readOnly": True}
    # the mountpoints under ~/data are made by an init container, as locked down
    init = kube.init_containers["mountpoints"]
    assert init["command"] == ["mkdir", "-p", "--", "/mnt/mountpoints/patients",
                               "/mnt/mountpoints/drugs"]
    assert init["securityContext"] == sc


def test_the_docker_plan_is_the_shared_plan_applied() -> None:
    """plan_workspace (what the Docker spawner calls) is workspace_spec + docker_plan."""
    ws = load_workspace_settings()
    skel, resolv = Path("/s"), Path("/r")
    via_spec = docker_plan(
        workspace_spec(user="alice", project="demo", datasets=DATASETS, settings=ws,
                       hub_connect_url=f"http://172.30.0.1:{ws.hub_gate_port}",
                       airlock_url=f"http://172.30.0.1:{ws.airlock_port}"),
        net=NET, skeleton=skel, resolv_conf=resolv)
    assert plan_workspace(user="alice", project="demo", datasets=DATASETS, net=NET,
                          settings=ws, skeleton=skel, resolv_conf=resolv) == via_spec


def test_both_spawners_share_the_project_logic() -> None:
    from workspaces.kube_spawner import KubeWorkspaceSpawner
    from workspaces.spawner import ProjectSpawner, WorkspaceSpawner

    for name in ("_authorise", "_granted", "get_options_form", "poll", "stop", "get_state",
                 "load_state", "_audit", "_still_allowed"):
        shared = getattr(ProjectSpawner, name)
        assert getattr(KubeWorkspaceSpawner, name) is shared, name
        assert getattr(WorkspaceSpawner, name) is shared, name
    assert KubeWorkspaceSpawner._stop_now is not WorkspaceSpawner._stop_now


def test_the_pod_kubespawner_makes_is_locked_down() -> None:
    _, pod = workspace_pod(user="alice", project="demo", datasets=DATASETS,
                              ws=load_workspace_settings(), kube=load_kube_settings(),
                              aliases={"tre-airlock": "10.0.0.5",
                                       "tre-hub-api-allowlist": "10.0.0.6"})
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["dnsPolicy"] == "None" and spec["dnsConfig"]["nameservers"] == ["127.0.0.1"]
    assert spec["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["tre-airlock"]},
                                   {"ip": "10.0.0.6", "hostnames": ["tre-hub-api-allowlist"]}]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"] + spec["initContainers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
        assert sc.get("privileged") is False
    labels = pod["metadata"]["labels"]
    assert labels[PROJECT_LABEL] == "demo"
    assert labels["app.kubernetes.io/component"] == "workspace"
    assert labels["app.kubernetes.io/instance"] == "tre"
    limits = spec["containers"][0]["resources"]["limits"]
    assert int(limits["memory"]) == 2 * 1024**3 and float(limits["cpu"]) == 1.0
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["TRE_PROJECT"] == "demo"
    assert env["JUPYTERHUB_API_URL"].startswith("http://tre-hub-api-allowlist:8082/")
    assert pod["metadata"]["name"] == plan_name("alice", "demo")


def plan_name(user: str, project: str) -> str:
    from workspaces.kube_spawner import pod_name

    return pod_name(user, project)


def test_pod_names_are_distinct_per_user_and_project_and_dns_safe() -> None:
    from workspaces.kube_spawner import pod_name

    names = {pod_name(u, p) for u in ("alice", "Alice@x.org", "a" * 80) for p in ("a", "b")}
    assert len(names) == 6
    assert all(len(n) <= 63 and n == n.lower() for n in names)


def test_bad_kube_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_KUBE_HOME_CAPACITY", "lots")
    with pytest.raises(SettingsError, match="TRE_KUBE_HOME_CAPACITY: must be a size"):
        load_kube_settings()
    monkeypatch.delenv("TRE_KUBE_HOME_CAPACITY")
    monkeypatch.setenv("TRE_KUBE_HUB_API_URL", "http://hub:8081/hub/login")
    with pytest.raises(SettingsError, match="TRE_KUBE_HUB_API_URL"):
        load_kube_settings()


def test_the_spawner_refuses_a_pod_the_policies_would_not_confine() -> None:
    """Like the Docker spawner without its firewall: no start, audited, a sentence."""
    import asyncio

    from tests.kube_pods import offline_spawner
    from workspaces.spawner import SpawnRefused

    audited: list[tuple[str, dict[str, Any]]] = []
    deny = {"kind": "NetworkPolicy", "metadata": {"name": "deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    open_egress = {"kind": "NetworkPolicy", "metadata": {"name": "open"},
                   "spec": {"podSelector": {"matchLabels": {
                       "app.kubernetes.io/component": "workspace"}},
                       "policyTypes": ["Egress"], "egress": [{}]}}

    def check(policies: list[dict[str, Any]]) -> None:
        async def run() -> None:  # KubeSpawner is made inside a running loop
            spawner = offline_spawner(load_workspace_settings(), load_kube_settings())
            spawner._audit = lambda action, project, details: audited.append((action, details))
            spawner.apply_plan("demo", kube_plan(_spec(), load_kube_settings(), image="i",
                                                 host_aliases={}))

            async def listed() -> list[dict[str, Any]]:
                return policies

            spawner._network_policies = listed
            await spawner.check_confined("demo")

        asyncio.run(run())

    check([deny])  # confined: starts
    assert audited == []
    for policies, problem in (([], "no NetworkPolicy isolates its ingress"),
                              ([deny, open_egress], "reach the internet (8.8.8.8:80)")):
        with pytest.raises(SpawnRefused, match="network is not locked") as refused:
            check(policies)
        assert problem in refused.value.jupyterhub_message
        assert audited[-1][0] == "workspace.spawn.refused"
        assert problem in audited[-1][1]["problem"]


def test_a_granted_dataset_without_its_claim_is_a_sentence() -> None:
    import asyncio

    from kubernetes_asyncio.client.rest import ApiException
    from tornado import web

    from tests.kube_pods import offline_spawner

    asked: list[str] = []

    class Api:
        def __init__(self, existing: set[str]) -> None:
            self.existing = existing

        async def read_namespaced_persistent_volume_claim(self, name: str,
                                                          namespace: str) -> object:
            asked.append(name)
            if name not in self.existing:
                raise ApiException(status=404, reason="Not Found")
            return object()

    async def run(existing: set[str]) -> None:
        spawner = offline_spawner(load_workspace_settings(), load_kube_settings())
        spawner.api = Api(existing)
        await spawner.check_datasets(kube_plan(_spec(), load_kube_settings(), image="i",
                                               host_aliases={}))

    asyncio.run(run({"tre-dataset-patients", "tre-dataset-drugs"}))
    assert sorted(asked) == ["tre-dataset-drugs", "tre-dataset-patients"]
    with pytest.raises(web.HTTPError, match="dataset drugs has no volume: the claim "
                                            "tre-dataset-drugs is missing"):
        asyncio.run(run({"tre-dataset-patients"}))
