"""The containment choices as data: firewall rules, names and container settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspaces.network import (
    NetworkError,
    ProjectNetwork,
    Scope,
    candidate_subnets,
    forward_rules,
    input6_rules,
    input_rules,
)
from workspaces.plan import DatasetMount, make_skeleton, plan_workspace, volume_names
from workspaces.settings import load_workspace_settings

NET = ProjectNetwork("demo", "tre-ws-demo", "tre-ws-1234abcd", "172.30.0.0/16", "172.30.0.1")


def test_scope_names_fit_linux_and_iptables() -> None:
    scope = Scope()
    bridge = scope.bridge_name("a-very-long-project-name-that-goes-on-and-on")
    assert len(bridge) == 15 and bridge.startswith("tre-ws-")
    assert scope.bridge_name("a") != scope.bridge_name("b")
    assert scope.network_name("demo") == "tre-ws-demo"
    assert (scope.input_chain, scope.forward_chain) == ("TRE-WS-INPUT", "TRE-WS-FORWARD")
    for bad in ("", "tre", "TRE-", "tre-ws-x-", "-a-"):
        with pytest.raises(NetworkError):
            Scope(bad)
    with pytest.raises(NetworkError, match="invalid project name"):
        scope.network_name("Demo Project")
    # a workspace's own network: opaque, one per user and project
    ws = scope.workspace_network_name("alice", "demo")
    assert len(ws) == 15 and ws.startswith("tre-ws-") and "alice" not in ws
    assert ws not in (scope.workspace_network_name("bob", "demo"),
                      scope.workspace_network_name("alice", "demo2"), scope.bridge_name("demo"))


def test_workspace_subnets_are_small_blocks_of_the_range() -> None:
    blocks = candidate_subnets("10.213.0.0/16", "alice\0demo", tries=5000)
    assert len(blocks) == 4096 == len(set(blocks))  # every /28 of the /16, once
    assert all(b.startswith("10.213.") and b.endswith("/28") for b in blocks)
    assert candidate_subnets("10.213.0.0/16", "bob\0demo")[0] != blocks[0]
    for bad in ("10.213.0.0/27", "not a range", "10.213.0.1/16"):
        with pytest.raises(NetworkError, match="TRE_WORKSPACE_SUBNETS"):
            candidate_subnets(bad, "k")


def test_input_rules_accept_only_the_ports_then_reject_everything() -> None:
    rules = input_rules(Scope(), [8090, 8081, 8081])
    assert rules[0][-1] == "ACCEPT" and "ESTABLISHED,RELATED" in rules[0]
    assert rules[1] == ["-i", "tre-ws-+", "-p", "tcp", "-m", "multiport", "--dports",
                        "8081,8090", "-j", "ACCEPT"]
    assert [r[-3:] for r in rules[2:4]] == [["REJECT", "--reject-with", "tcp-reset"],
                                           ["REJECT", "--reject-with", "icmp-port-unreachable"]]
    assert rules[4][:3] == ["!", "-i", "lo"] and rules[4][-1] == "DROP"
    assert all(r[-1] == "DROP" for r in input6_rules(Scope(), [1]) + forward_rules(Scope()))
    with pytest.raises(NetworkError):
        input_rules(Scope(), [])


def test_plan_locks_the_container_down(tmp_path: Path) -> None:
    settings = load_workspace_settings()
    data = tmp_path / "patients"
    data.mkdir()
    skeleton = make_skeleton(tmp_path / "skel", [DatasetMount("patients", str(data))])
    assert sorted(p.name for p in skeleton.iterdir()) == ["patients"]
    plan = plan_workspace(user="alice", project="demo",
                          datasets=[DatasetMount("patients", str(data))], net=NET,
                          settings=settings, skeleton=skeleton, resolv_conf=tmp_path / "r")
    hc = plan.host_config
    assert hc["cap_drop"] == ["ALL"] and hc["security_opt"] == ["no-new-privileges"]
    assert hc["read_only"] is True and hc["pids_limit"] == settings.workspace_pids_limit
    assert hc["network_mode"] == "tre-ws-demo" and hc["dns"] == ["172.30.0.1"]
    assert hc["sysctls"]["net.ipv6.conf.all.disable_ipv6"] == "1"
    assert plan.volumes[str(skeleton)] == {"bind": "/home/jovyan/data", "mode": "ro"}
    assert plan.volumes[str(data)] == {"bind": "/home/jovyan/data/patients", "mode": "ro"}
    home, outputs = volume_names("tre-ws-", "alice", "demo")
    assert plan.volumes[home]["bind"] == "/home/jovyan"
    assert plan.volumes[outputs]["bind"] == "/home/jovyan/outputs"
    # opaque (mountinfo shows them inside), distinct per user and project
    assert "alice" not in home and home.startswith("tre-ws-home-")
    assert home != volume_names("tre-ws-", "bob", "demo")[0]
    assert home != volume_names("tre-ws-", "alice", "demo2")[0]
    # the hub gate, never the hub API itself
    assert plan.hub_connect_url == f"http://172.30.0.1:{settings.hub_gate_port}"
    assert plan.environment == {
        "TRE_PROJECT": "demo",
        "TRE_AIRLOCK_URL": f"http://172.30.0.1:{settings.airlock_port}/services/airlock"}
    # a second plan without the dataset leaves no trace of it
    make_skeleton(skeleton, [])
    assert list(skeleton.iterdir()) == []
