"""NetworkPolicy semantics (workspaces.netpolicy), each rule checked on a case worked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from workspaces.netpolicy import External, Pod, PolicyError, allowed, parse_policy, selector_matches

pytestmark = pytest.mark.unit

WEB = Pod("web", "app", {"role": "web"}, "10.0.0.1", {"http": 8080})
DB = Pod("db", "app", {"role": "db"}, "10.0.0.2", {"pg": 5432})
SPY = Pod("spy", "other", {"role": "web"}, "10.0.1.1")
NET = External("internet", "93.184.216.34")
METADATA = External("metadata", "169.254.169.254")


def pol(name: str, spec: dict[str, Any], ns: str = "app") -> Any:
    return parse_policy({"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
                         "spec": spec}, "default")


DENY_ALL = pol("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def test_no_policy_allows_everything_and_deny_all_nothing() -> None:
    assert allowed([], WEB, DB, 5432) and allowed([], WEB, NET, 443)
    assert not allowed([DENY_ALL], WEB, DB, 5432)
    assert not allowed([DENY_ALL], WEB, NET, 443)
    assert not allowed([DENY_ALL], SPY, DB, 5432)  # ingress of db is isolated
    assert allowed([DENY_ALL], SPY, NET, 443)  # the policy is of namespace app only


def test_both_ends_must_allow() -> None:
    to_db = {"podSelector": {"matchLabels": {"role": "db"}}}
    from_web = {"podSelector": {"matchLabels": {"role": "web"}}}
    egress = pol("web-out", {"podSelector": {"matchLabels": {"role": "web"}},
                             "policyTypes": ["Egress"], "egress": [{"to": [to_db]}]})
    assert not allowed([DENY_ALL, egress], WEB, DB, 5432)  # db's ingress still denies
    ingress = pol("db-in", {"podSelector": {"matchLabels": {"role": "db"}},
                            "ingress": [{"from": [from_web], "ports": [{"port": 5432}]}]})
    assert allowed([DENY_ALL, egress, ingress], WEB, DB, 5432)
    assert not allowed([DENY_ALL, egress, ingress], WEB, DB, 5433)
    assert not allowed([DENY_ALL, egress, ingress], WEB, DB, 5432, "UDP")
    # without a namespaceSelector a podSelector means the policy's own namespace
    assert not allowed([ingress], SPY, DB, 5432)


def test_policy_types_default_from_the_rules() -> None:
    only_ingress = pol("i", {"podSelector": {}, "ingress": []})
    assert only_ingress.types == {"Ingress"}
    assert not allowed([only_ingress], SPY, WEB, 80) and allowed([only_ingress], WEB, NET, 80)
    both = pol("b", {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
    assert both.types == {"Ingress", "Egress"}
    assert allowed([both], WEB, NET, 53, "UDP") and not allowed([both], WEB, NET, 53)


def test_empty_peers_or_ports_match_everything_but_an_empty_rule_list_nothing() -> None:
    any_peer = pol("a", {"podSelector": {}, "policyTypes": ["Egress"],
                         "egress": [{"ports": [{"port": 443}]}]})
    assert allowed([any_peer], WEB, NET, 443) and allowed([any_peer], WEB, METADATA, 443)
    no_rules = pol("n", {"podSelector": {}, "policyTypes": ["Egress"], "egress": []})
    assert not allowed([no_rules], WEB, NET, 443)


def test_namespace_and_pod_selectors_in_one_peer_are_and_in_two_peers_or() -> None:
    namespaces = {"other": {"kubernetes.io/metadata.name": "other", "team": "x"}}
    both = {"namespaceSelector": {"matchLabels": {"team": "x"}},
            "podSelector": {"matchLabels": {"role": "db"}}}
    one = pol("and", {"podSelector": {"matchLabels": {"role": "db"}},
                      "ingress": [{"from": [both]}]})
    assert not allowed([one], SPY, DB, 5432, namespaces=namespaces)  # spy is role=web
    two = pol("or", {"podSelector": {"matchLabels": {"role": "db"}},
                     "ingress": [{"from": [{"namespaceSelector": both["namespaceSelector"]},
                                           {"podSelector": both["podSelector"]}]}]})
    assert allowed([two], SPY, DB, 5432, namespaces=namespaces)


def test_ip_blocks_with_exceptions() -> None:
    out = pol("o", {"podSelector": {}, "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                    "except": ["169.254.169.254/32"]}}]}]})
    assert allowed([out], WEB, NET, 80)
    assert not allowed([out], WEB, METADATA, 80)
    narrow = pol("n", {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"ipBlock": {"cidr": "93.184.216.0/24"}}]}]})
    assert allowed([narrow], WEB, NET, 80) and not allowed([narrow], WEB, DB, 5432)


def test_named_ports_and_port_ranges() -> None:
    named = pol("p", {"podSelector": {"matchLabels": {"role": "web"}},
                      "ingress": [{"ports": [{"port": "http"}]}]})
    assert allowed([named], SPY, WEB, 8080) and not allowed([named], SPY, WEB, 8081)
    ranged = pol("r", {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"ports": [{"port": 8000, "endPort": 8010}]}]})
    assert allowed([ranged], WEB, NET, 8010) and not allowed([ranged], WEB, NET, 8011)
    # a named port means nothing to an address outside the cluster
    by_name = pol("e", {"podSelector": {}, "policyTypes": ["Egress"],
                        "egress": [{"ports": [{"port": "http"}]}]})
    assert not allowed([by_name], WEB, NET, 8080) and allowed([by_name], SPY, WEB, 8080)


def test_selector_expressions() -> None:
    labels = {"tier": "a", "x": "1"}
    assert selector_matches({}, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In",
                                                   "values": ["a", "b"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                       "values": ["a"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "y", "operator": "DoesNotExist"}]},
                            labels)
    assert not selector_matches({"matchExpressions": [{"key": "y", "operator": "Exists"}]},
                                labels)
    with pytest.raises(PolicyError, match="operator"):
        selector_matches({"matchExpressions": [{"key": "y", "operator": "Near"}]}, labels)


def test_unreadable_policies_are_refused() -> None:
    with pytest.raises(PolicyError, match="podSelector"):
        parse_policy({"kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": {}}, "d")
    with pytest.raises(PolicyError, match="not a NetworkPolicy"):
        parse_policy({"kind": "Pod"}, "d")


def test_what_a_workspace_needs_to_be_confined() -> None:
    from workspaces.netpolicy import confinement_problem

    ws = Pod("ws", "tre", {"component": "workspace"}, "10.0.0.9")
    assert confinement_problem([], ws) == "no NetworkPolicy isolates its ingress"
    egress_only = pol("e", {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}, "tre")
    assert confinement_problem([egress_only], ws) == "no NetworkPolicy isolates its ingress"
    deny = pol("d", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "tre")
    assert confinement_problem([deny], ws) is None
    out = pol("o", {"podSelector": {}, "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                    "except": ["169.254.169.254/32"]}}]}]},
              "tre")
    assert confinement_problem([deny, out], ws) == (
        "the NetworkPolicies let it reach the internet (8.8.8.8:80)")
    metadata = pol("m", {"podSelector": {}, "policyTypes": ["Egress"],
                         "egress": [{"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}]}]}, "tre")
    assert "cloud metadata service" in (confinement_problem([deny, metadata], ws) or "")
    peers = {"podSelector": {"matchLabels": {"component": "workspace"}}}
    twins = pol("t", {"podSelector": {}, "ingress": [{"from": [peers]}],
                      "egress": [{"to": [peers]}]}, "tre")
    assert confinement_problem([deny, twins], ws) == (
        "the NetworkPolicies let workspaces reach each other")
