"""Who can reach whom under the chart's NetworkPolicies: the Docker isolation matrix.

The policies of each rendering of helm/tre are evaluated (workspaces.netpolicy) against the
pods the chart makes, the workspace pods its hub's KubeSpawner makes (alice and bob
in proj-a, carol in proj-b), a pod in another namespace, Kubernetes' DNS and
addresses outside the cluster.  Each test names the test of
tests/integration/test_network_isolation.py (tre's Docker firewall, probed from inside
real containers) whose assertion it repeats for Kubernetes.

Every rendering sets ``airlock.workspaceNetworks`` to 10.0.0.0/8, which holds every
pod address here (the hub's, the airlock's, another namespace's): the worst case, a
pod CIDR shared by everything, where only the policies and the proxy's
X-Forwarded-For keep a call that is not a workspace's outside.  The airlock's own
decision (airlock.origin) is taken on those addresses with the networks the
rendered airlock pod's environment gives its settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airlock.origin import Credential, Network, Origin, origin_of
from tests.helm.chart import VALUES, chart_pods, hub_env, of_kind, render, workspace_pods
from workspaces.netpolicy import Endpoint, External, Pod, Policy, allowed, parse_policy

INTERNET = [External("internet", "93.184.216.34"), External("public-dns", "8.8.8.8")]
METADATA = External("cloud metadata", "169.254.169.254")
KUBE_DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, "10.96.0.10")
OUTSIDER = Pod("someone-elses-pod", "other", {"app": "web"}, "10.3.0.7")
POD_NETWORK = "10.0.0.0/8"  # every pod address below: the widest the chart accepts
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
    networks: tuple[Network, ...]  # the airlock's workspace networks, as it reads them
    pods: dict[str, Pod]  # every pod the chart makes, by workload

    def can(self, src: Endpoint, dst: Endpoint, port: int | str, proto: str = "TCP") -> bool:
        number = dst.ports[port] if isinstance(port, str) and isinstance(dst, Pod) else port
        assert isinstance(number, int)
        return allowed(self.policies, src, dst, number, proto, NAMESPACES)


@pytest.fixture(scope="module", params=VALUES, ids=[v.stem for v in VALUES])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    import yaml

    values_file: Path = request.param
    docs = render(values_file, f"airlock.workspaceNetworks={{{POD_NETWORK}}}")
    pods = chart_pods(docs)
    workspaces = [p for p, _ in workspace_pods(docs)]
    values = yaml.safe_load(values_file.read_text()) or {}
    if "tre-postgresql" in pods:
        database: Endpoint = pods["tre-postgresql"]
    else:
        database = External("external database", values["database"]["cidrs"][0].split("/")[0])
    return Cluster([parse_policy(d, "tre") for d in of_kind(docs, "NetworkPolicy")],
                   pods["tre-hub"], pods["tre-airlock"], database, workspaces,
                   hub_env(docs), values, airlock_networks(docs), pods)


def airlock_networks(docs: list[dict[str, Any]]) -> tuple[Network, ...]:
    """The workspace networks the rendered airlock pod's environment gives the
    airlock's own settings (airlock.settings, which refuses a bad one)."""
    from airlock.settings import load_airlock_settings
    from tre.settings import load_settings

    deployment = next(d for d in of_kind(docs, "Deployment")
                      if d["metadata"]["name"] == "tre-airlock")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    platform = load_settings(environment="development")
    return load_airlock_settings(
        platform, workspace_networks=env["TRE_AIRLOCK_WORKSPACE_NETWORKS"]).workspace_networks


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


# ---- inside or outside: the airlock's decision on the pods that reach it ------------------------
def _calls_the_airlock_inside(cluster: Cluster, src: Endpoint) -> bool:
    """A hub API token sent from ``src`` to the airlock's port counts as a workspace's.

    What the hub pod sends the airlock is its proxy's (browsers' calls), and the proxy
    adds X-Forwarded-For (tests/integration/test_proxy_forwarding.py, with the real
    configurable-http-proxy); every other pod calls straight."""
    if not cluster.can(src, cluster.airlock, "airlock"):
        return False  # the policies drop the connection: no call at all
    forwarded = src == cluster.hub
    return origin_of(src.ip, Credential.API_TOKEN, cluster.networks,
                     forwarded=forwarded) is Origin.WORKSPACE


def test_the_rendered_airlock_reads_the_workspace_networks(cluster: Cluster) -> None:
    assert [str(n) for n in cluster.networks] == [POD_NETWORK]


def test_a_workspace_calling_the_airlock_is_inside_and_no_other_pod_is(cluster: Cluster) -> None:
    others = [*cluster.pods.values(), KUBE_DNS, OUTSIDER]  # the hub, the database ...
    # the worst case: the network alone would call every one of them inside
    for pod in [*cluster.workspaces, *others]:
        assert origin_of(pod.ip, Credential.API_TOKEN, cluster.networks) is Origin.WORKSPACE
    for ws in cluster.workspaces:
        assert _calls_the_airlock_inside(cluster, ws), ws.name
    for pod in others:
        assert not _calls_the_airlock_inside(cluster, pod), pod.name
    # the hub pod reaches the airlock (the proxy): its header is what keeps it outside
    assert cluster.can(cluster.hub, cluster.airlock, "airlock")
    assert origin_of(cluster.hub.ip, Credential.API_TOKEN, cluster.networks,
                     forwarded=True) is Origin.OUTSIDE


def test_a_browser_session_from_a_workspace_is_still_outside(cluster: Cluster) -> None:
    for ws in cluster.workspaces:
        for credential in (Credential.BROWSER, Credential.SERVICE, Credential.UNKNOWN):
            assert origin_of(ws.ip, credential, cluster.networks) is Origin.OUTSIDE


def test_by_default_every_call_is_outside() -> None:
    docs = render(None)
    assert airlock_networks(docs) == ()
    for ws, _ in workspace_pods(docs):
        assert origin_of(ws.ip, Credential.API_TOKEN, airlock_networks(docs)) is Origin.OUTSIDE
