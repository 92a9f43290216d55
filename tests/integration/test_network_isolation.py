"""Workspace network isolation, tested from inside real containers.

Two project networks (A and B) of a scope of the test's own, its firewall for two
"hub" and "airlock" ports, and tiny HTTP listeners on the host.  Every probe is a
TCP connection made by Python inside a container; no packet is ever sent to an
address outside this machine.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.hub import (
    Container,
    Listener,
    docker_api,
    host_ipv4_addresses,
    probe,
    run_container,
    test_scope,
    workspace_image,
)
from workspaces import network
from workspaces.network import ProjectNetwork, Scope

__all__ = ["docker_api", "test_scope", "workspace_image"]  # fixtures, imported for pytest


@dataclass
class Lab:
    scope: Scope
    a: ProjectNetwork
    b: ProjectNetwork
    hub: list[Listener]  # on A's and B's gateways
    airlock: list[Listener]
    other_port: Listener  # 0.0.0.0, a host service the workspaces must not reach
    ws_a: Container
    ws_a2: Container  # a second workspace in project A
    ws_b: Container
    plain_net: str  # an ordinary (non-internal) Docker network
    outside: Container  # a server on the ordinary network

    @property
    def ports(self) -> list[int]:
        return [self.hub[0].port, self.airlock[0].port]


def _workspace(api: Any, image: str, net: ProjectNetwork, resolv: Path) -> Container:
    return run_container(api, image, volumes=[f"{resolv}:/etc/resolv.conf:ro"],
                         **network.container_network_config(net))


@pytest.fixture(scope="module")
def lab(docker_api: Any, workspace_image: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Built once for the module: the probes only read, so the tests cannot interfere."""
    api, made = docker_api, []
    test_scope = Scope(f"t{secrets.token_hex(2)}-")
    tmp_path = tmp_path_factory.mktemp("lab")
    a = network.ensure_network(api, "proj-a", test_scope)
    b = network.ensure_network(api, "proj-b", test_scope)
    hub_a = Listener(a.gateway)
    listeners = [hub_a, Listener(b.gateway, hub_a.port)]
    air_a = Listener(a.gateway)
    listeners += [air_a, Listener(b.gateway, air_a.port)]
    other = Listener("0.0.0.0")
    listeners.append(other)
    network.apply_firewall([hub_a.port, air_a.port], test_scope)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(network.RESOLV_CONF)
    plain = f"{test_scope.prefix}plain"
    api.create_network(plain, driver="bridge", labels={"org.tre.test": "1"})
    try:
        made = [_workspace(api, workspace_image, a, resolv),
                _workspace(api, workspace_image, a, resolv),
                _workspace(api, workspace_image, b, resolv),
                run_container(api, workspace_image, network_mode=plain,
                              command=["python", "-m", "http.server", "8000"])]
        yield Lab(test_scope, a, b, [hub_a, listeners[1]], [air_a, listeners[3]], other,
                  made[0], made[1], made[2], plain, made[3])
    finally:
        for c in made:
            c.remove()
        for listener in listeners:
            listener.close()
        api.remove_network(plain)
        network.remove_network(api, "proj-a", test_scope)
        network.remove_network(api, "proj-b", test_scope)
        network.remove_firewall(test_scope)


def test_network_is_internal_without_icc_on_a_fixed_bridge(docker_api: Any,
                                                          test_scope: Scope) -> None:
    net = network.ensure_network(docker_api, "fixed", test_scope)
    try:
        info = docker_api.inspect_network(net.name)
        assert info["Internal"] is True
        assert info["Options"]["com.docker.network.bridge.enable_icc"] == "false"
        assert net.bridge == test_scope.bridge_name("fixed")
        assert len(net.bridge) <= 15
        assert net.bridge.startswith(test_scope.prefix)
        # idempotent: the same network, not a second one
        assert network.ensure_network(docker_api, "fixed", test_scope) == net
        assert [n.name for n in network.list_networks(docker_api, test_scope)] == [net.name]
    finally:
        assert network.remove_network(docker_api, "fixed", test_scope)
    assert not network.remove_network(docker_api, "fixed", test_scope)


def test_hub_and_airlock_ports_are_reachable(lab: Lab) -> None:
    for ws, gw in ((lab.ws_a, lab.a.gateway), (lab.ws_b, lab.b.gateway)):
        got = probe(ws, [(gw, lab.hub[0].port), (gw, lab.airlock[0].port)])
        for target, (ok, detail) in got.items():
            assert ok and " 200 " in detail, (target, detail)


def test_other_host_services_are_unreachable_through_every_host_address(lab: Lab) -> None:
    targets = [(addr, lab.other_port.port) for addr in host_ipv4_addresses()]
    targets += [(lab.a.gateway, 22), (lab.a.gateway, 53)]
    got = probe(lab.ws_a, targets)
    for target, (ok, detail) in got.items():
        assert not ok, f"{target} reachable from a workspace: {detail}"
        # rejected (a TCP reset), not silently dropped (a timeout): tools fail at once
        assert detail.startswith("ConnectionRefusedError"), (target, detail)


def test_other_workspaces_are_unreachable(lab: Lab, docker_api: Any) -> None:
    server = ["python", "-m", "http.server", "8888"]
    for ws in (lab.ws_a2, lab.ws_b):
        ws.api.exec_start(ws.api.exec_create(ws.id, server, user="jovyan")["Id"], detach=True)
    for _ in range(50):  # the servers are up once each answers itself
        if all(probe(ws, [("127.0.0.1", 8888)])[("127.0.0.1", 8888)][0]
               for ws in (lab.ws_a2, lab.ws_b)):
            break
        time.sleep(0.1)
    same_project = lab.ws_a2.ip(lab.a.name)
    other_project = lab.ws_b.ip(lab.b.name)
    assert probe(lab.ws_a2, [("127.0.0.1", 8888)])[("127.0.0.1", 8888)][0]
    got = probe(lab.ws_a, [(same_project, 8888), (other_project, 8888)], timeout=1.5)
    for target, (ok, detail) in got.items():
        assert not ok, f"workspace {target} reachable from another workspace: {detail}"


def test_a_server_on_another_docker_network_is_unreachable(lab: Lab) -> None:
    """The path to the internet (forwarding through the host) is shut."""
    outside = lab.outside.ip(lab.plain_net)
    got = probe(lab.ws_a, [(outside, 8000)], timeout=1.5)
    assert not got[(outside, 8000)][0]


def test_hub_ports_are_refused_from_other_networks(lab: Lab) -> None:
    """The hub listens on every address; only loopback and workspaces may use it."""
    got = probe(lab.outside, [(lab.a.gateway, lab.hub[0].port)], timeout=1.0)
    assert not got[(lab.a.gateway, lab.hub[0].port)][0]


def test_name_resolution_fails_at_once(lab: Lab) -> None:
    """Lookups fail, and at once: every name server is the container's own loopback,
    where nothing listens, so a query is refused rather than left to time out."""
    code = ("import socket\n"
            "try:\n    socket.getaddrinfo('tre-probe.invalid', 80); print('resolved')\n"
            "except OSError:\n    print('failed')\n"
            "servers = [line.split()[1] for line in open('/etc/resolv.conf')\n"
            "           if line.startswith('nameserver')]\n"
            "print(','.join(servers))\n"
            "for server in servers:\n"
            "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)\n"
            "    s.connect((server, 53)); s.send(b'query')\n"
            "    try:\n        s.recv(512); print('answered')\n"
            "    except ConnectionRefusedError:\n        print('refused')\n"
            "    except TimeoutError:\n        print('timed-out')\n")
    status, out = lab.ws_a.python(code)
    assert status == 0, out
    verdict, servers, *answers = out.split()
    assert verdict == "failed"
    assert servers and all(ip.startswith("127.") for ip in servers.split(",")), servers
    assert answers == ["refused"] * len(servers.split(","))


def test_no_ipv6_inside_workspaces(lab: Lab) -> None:
    status, out = lab.ws_a.exec(["cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"])
    assert (status, out.strip()) == (0, "1")


def test_firewall_is_idempotent_and_removable(test_scope: Scope) -> None:
    network.apply_firewall([1234, 1235], test_scope)
    network.apply_firewall([1234, 1235], test_scope)
    assert network.firewall_installed([1234, 1235], test_scope)
    assert not network.firewall_installed([1234, 1236], test_scope)
    rules = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    assert rules.count(f"-j {test_scope.input_chain}") == 1
    network.remove_firewall(test_scope)
    network.remove_firewall(test_scope)
    assert not network.firewall_installed([1234, 1235], test_scope)
