"""Who can reach whom under the chart's NetworkPolicies: the Docker isolation matrix.

The policies of each rendering of helm/tre are evaluated (workspaces.netpolicy) against the
pods the chart makes, the workspace pods its hub's KubeSpawner makes (alice and bob
in proj-a, carol in proj-b), a pod in another namespace, Kubernetes' DNS and
addresses outside the cluster.  Each test names the test of
tests/integration/test_network_isolation.py (tre's Docker firewall, probed from inside
real containers) whose assertion it repeats for Kubernetes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import VALUES, chart_pods, hub_env, of_kind, render, workspace_pods
from workspaces.netpolicy import Endpoint, External, Pod, Policy, allowed, parse_policy

INTERNET = [External("internet", "93.184.216.34"), External("public-dns", "8.8.8.8")]
METADATA = External("cloud metadata", "169.254.169.254")
KUBE_DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, "10.96.0.10")
OUTSIDER = Pod("someone-elses-pod", "other", {"app": "web"}, "10.3.0.7")
NAMESPACES = {"kube-system": {"kubernetes.io/metadata.name": "kube-system"},
              "other": {"kubernetes.io/metadata.name": "other"},
              "tre": {"kubernetes.io/metadata.name": "tre"}}


@dataclass
class Cluster:
    policies: list[Policy]
    hub: Pod
    airlock: Pod
    database: Endpoint
    workspaces: list[Pod]  # alice/proj-a, bob/proj-a, carol/proj-b
    env: dict[str, str]
    values: dict[str, Any]

    def can(self, src: Endpoint, dst: Endpoint, port: int | str, proto: str = "TCP") -> bool:
        number = dst.ports[port] if isinstance(port, str) and isinstance(dst, Pod) else port
        assert isinstance(number, int)
        return allowed(self.policies, src, dst, number, proto, NAMESPACES)


@pytest.fixture(scope="module", params=VALUES, ids=[v.stem for v in VALUES])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    import yaml

    values_file: Path = request.param
    docs = render(values_file)
    pods = chart_pods(docs)
    workspaces = [p for p, _ in workspace_pods(docs)]
    values = yaml.safe_load(values_file.read_text()) or {}
    if "tre-postgresql" in pods:
        database: Endpoint = pods["tre-postgresql"]
    else:
        database = External("external database", values["database"]["cidrs"][0].split("/")[0])
    return Cluster([parse_policy(d, "tre") for d in of_kind(docs, "NetworkPolicy")],
                   pods["tre-hub"], pods["tre-airlock"], database, workspaces,
                   hub_env(docs), values)


def test_the_workspace_pods_are_the_ones_the_policies_select(cluster: Cluster) -> None:
    """Guard: the pods evaluated are labelled as KubeSpawner labels them."""
    for ws in cluster.workspaces:
        assert ws.labels["app.kubernetes.io/component"] == "workspace"
        assert ws.labels["app.kubernetes.io/instance"] == "tre"


# test_hub_and_airlock_ports_are_reachable
def test_hub_and_airlock_ports_are_reachable(cluster: Cluster) -> None:
    for ws in cluster.workspaces:
        assert cluster.can(ws, cluster.hub, "api-allowlist"), ws.name
        assert cluster.can(ws, cluster.airlock, "airlock"), ws.name


# test_other_host_services_are_unreachable_through_every_host_address
def test_other_hub_and_platform_services_are_unreachable(cluster: Cluster) -> None:
    ws = cluster.workspaces[0]
    # the full hub API (login, token minting) and the proxy: not from a workspace
    for port in ("api", "proxy-public", 22, 53):
        assert not cluster.can(ws, cluster.hub, port), port
    for port in (22, 5432, 8081):
        assert not cluster.can(ws, cluster.airlock, port), port
    assert not cluster.can(ws, cluster.database, 5432)
    assert not cluster.can(ws, External("kubernetes API", "10.96.0.1"), 443)
    assert not cluster.can(ws, External("kubernetes API", "10.96.0.1"), 6443)


# test_other_workspaces_are_unreachable
def test_other_workspaces_are_unreachable(cluster: Cluster) -> None:
    alice, bob, carol = cluster.workspaces
    for src, dst in ((alice, bob), (alice, carol), (bob, alice), (carol, alice)):
        for port in (8888, 22, 8000):
            assert not cluster.can(src, dst, port), (src.name, dst.name, port)


# test_a_server_on_another_docker_network_is_unreachable
def test_nothing_outside_the_tre_is_reachable(cluster: Cluster) -> None:
    targets: list[Endpoint] = [*INTERNET, METADATA, OUTSIDER]
    for ws in cluster.workspaces:
        for target in targets:
            for port in (80, 443, 8000):
                assert not cluster.can(ws, target, port), (ws.name, target.name, port)
        assert not cluster.can(ws, METADATA, 80, "UDP")


# test_hub_ports_are_refused_from_other_networks
def test_hub_and_airlock_ports_are_refused_from_elsewhere(cluster: Cluster) -> None:
    assert not cluster.can(OUTSIDER, cluster.hub, "api")
    assert not cluster.can(OUTSIDER, cluster.hub, "api-allowlist")
    assert not cluster.can(OUTSIDER, cluster.airlock, "airlock")
    for ws in cluster.workspaces:
        assert not cluster.can(OUTSIDER, ws, 8888)
    # the airlock, and only it, uses the full hub API (token checks)
    assert cluster.can(cluster.airlock, cluster.hub, "api")
    # browsers reach the proxy, the one public door
    assert cluster.can(OUTSIDER, cluster.hub, "proxy-public")


# test_name_resolution_fails_at_once
def test_no_name_resolves_unless_a_mirror_is_asked_for(cluster: Cluster) -> None:
    ws = cluster.workspaces[0]
    for proto in ("UDP", "TCP"):
        assert not cluster.can(ws, KUBE_DNS, 53, proto)
    mirror = cluster.values.get("workspace", {}).get("dnsMirror", {}).get("ip")
    if cluster.values.get("workspace", {}).get("dns") == "mirror":
        assert cluster.env["TRE_KUBE_DNS_NAMESERVER"] == mirror
        assert cluster.can(ws, External("mirror", mirror), 53, "UDP")
        assert not cluster.can(ws, External("mirror", mirror), 80)
    else:
        assert "TRE_KUBE_DNS_NAMESERVER" not in cluster.env
        assert not cluster.can(ws, External("a resolver", "10.50.0.53"), 53, "UDP")


def test_the_hub_reaches_jupyterlab_and_the_servers_their_database(cluster: Cluster) -> None:
    for ws in cluster.workspaces:
        assert cluster.can(cluster.hub, ws, 8888)
        assert not cluster.can(cluster.airlock, ws, 8888)
    assert cluster.can(cluster.hub, cluster.database, 5432)
    assert cluster.can(cluster.airlock, cluster.database, 5432)
    assert cluster.can(cluster.hub, KUBE_DNS, 53, "UDP")
    assert not cluster.can(cluster.airlock, METADATA, 80)
    assert not cluster.can(cluster.hub, METADATA, 443)
    for target in INTERNET:
        assert not cluster.can(cluster.airlock, target, 443)


def test_the_hub_would_start_these_workspaces_and_no_unconfined_one(cluster: Cluster) -> None:
    """The spawner's own check (KubeWorkspaceSpawner.check_confined) on the chart's
    policies: every workspace passes; without the policies none would."""
    from workspaces.netpolicy import confinement_problem

    for ws in cluster.workspaces:
        assert confinement_problem(cluster.policies, ws) is None, ws.name
    assert confinement_problem([], cluster.workspaces[0]) is not None


def test_without_policies_the_hub_refuses_every_workspace() -> None:
    from workspaces.netpolicy import confinement_problem

    docs = render(None, "networkPolicy.enabled=false", "insecure.acknowledge=true")
    assert of_kind(docs, "NetworkPolicy") == []
    for ws, _ in workspace_pods(docs):
        assert confinement_problem([], ws) == "no NetworkPolicy isolates its ingress"
