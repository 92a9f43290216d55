"""Kubernetes NetworkPolicy semantics, written small, to evaluate rendered policies.

Pure (no cluster, no I/O): given the policies of a chart, the pods and the addresses
outside the cluster, :func:`allowed` says whether a new connection from one endpoint
to a port of another would be let through by a CNI that implements the standard
semantics (networking.k8s.io/v1):

* a pod is *isolated* for a direction when at least one policy of its namespace
  selects it (``podSelector``) and has that direction in its ``policyTypes``
  (default: ``Ingress``, plus ``Egress`` when the policy has ``egress`` rules);
* an isolated pod admits a connection only if some rule of some policy selecting it
  matches the peer and the port: policies are additive, never subtractive;
* a rule with no ``from``/``to`` (or an empty list) matches every peer, and one with
  no ``ports`` every port; within one peer, ``namespaceSelector`` and
  ``podSelector`` must both match (no ``namespaceSelector``: the policy's own
  namespace); ``ipBlock`` matches addresses in ``cidr`` but not in ``except``;
* a named port is resolved against the destination pod's container ports;
* a connection passes when the source's egress *and* the destination's ingress
  both allow it (an endpoint outside the cluster has no policies).

``ipBlock`` is also matched against pod addresses, as Calico does; the standard
leaves that to the implementation, and matching it can only allow more, so
assertions that something is refused stay sound.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tre.errors import TreError


class PolicyError(TreError, ValueError):
    """A NetworkPolicy this module cannot read (the message names it)."""

    code = "network_policy"
    status = 422


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    ip: str
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports


@dataclass(frozen=True)
class External:
    """An address outside the cluster (the internet, a metadata service, an API server)."""

    name: str
    ip: str


Endpoint = Pod | External


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    pod_selector: Mapping[str, Any]
    types: frozenset[str]
    ingress: tuple[Mapping[str, Any], ...]
    egress: tuple[Mapping[str, Any], ...]


def parse_policy(doc: Mapping[str, Any], default_namespace: str) -> Policy:
    if doc.get("kind") != "NetworkPolicy":
        raise PolicyError(f"not a NetworkPolicy: {doc.get('kind')!r}")
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    name = str(meta.get("name", "?"))
    if "podSelector" not in spec:
        raise PolicyError(f"NetworkPolicy {name}: spec.podSelector is required")
    types = spec.get("policyTypes")
    if types is None:
        types = ["Ingress", *(["Egress"] if "egress" in spec else [])]
    if not set(types) <= {"Ingress", "Egress"}:
        raise PolicyError(f"NetworkPolicy {name}: unknown policyTypes {types}")
    return Policy(name=name, namespace=str(meta.get("namespace") or default_namespace),
                  pod_selector=spec["podSelector"] or {}, types=frozenset(types),
                  ingress=tuple(spec.get("ingress") or ()),
                  egress=tuple(spec.get("egress") or ()))


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector; the empty selector matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise PolicyError(f"unknown selector operator {op!r}")
    return True


def _in_block(block: Mapping[str, Any], ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    net = ipaddress.ip_network(block["cidr"], strict=False)
    if addr.version != net.version or addr not in net:
        return False
    return not any(addr in ipaddress.ip_network(e, strict=False)
                   for e in block.get("except") or ())


def peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Endpoint,
                 namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    if "ipBlock" in peer:
        return _in_block(peer["ipBlock"], other.ip)
    if not isinstance(other, Pod):
        return False  # pod and namespace selectors select pods only
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is None:
        ns_ok = other.namespace == policy_namespace
    else:
        ns_ok = selector_matches(ns_selector, namespaces.get(other.namespace, {}))
    pod_selector = peer.get("podSelector")
    return ns_ok and (pod_selector is None or selector_matches(pod_selector, other.labels))


def port_matches(ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str,
                 destination: Endpoint) -> bool:
    rules = list(ports or ())
    if not rules:
        return True
    for rule in rules:
        if rule.get("protocol", "TCP") != protocol:
            continue
        if "port" not in rule:
            return True
        value = rule["port"]
        if isinstance(value, str):
            if not isinstance(destination, Pod) or value not in destination.ports:
                continue
            value = destination.ports[value]
        if int(value) <= port <= int(rule.get("endPort", value)):
            return True
    return False


def _admits(policies: list[Policy], direction: str, subject: Pod, peer: Endpoint,
            port: int, protocol: str, destination: Endpoint,
            namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    selecting = [p for p in policies if p.namespace == subject.namespace
                 and direction in p.types and selector_matches(p.pod_selector, subject.labels)]
    if not selecting:
        return True  # not isolated in this direction
    key = "from" if direction == "Ingress" else "to"
    for policy in selecting:
        for rule in policy.ingress if direction == "Ingress" else policy.egress:
            peers = rule.get(key) or []
            if peers and not any(peer_matches(p, policy.namespace, peer, namespaces)
                                 for p in peers):
                continue
            if port_matches(rule.get("ports"), port, protocol, destination):
                return True
    return False


def allowed(policies: list[Policy], source: Endpoint, destination: Endpoint, port: int,
            protocol: str = "TCP",
            namespaces: Mapping[str, Mapping[str, str]] | None = None) -> bool:
    """Would a new ``protocol`` connection from ``source`` to ``destination:port`` pass?

    ``namespaces``: the labels of each namespace (for namespace selectors); a namespace
    not given has only its ``kubernetes.io/metadata.name`` label, as in a real cluster.
    """
    known = dict(namespaces or {})
    for ep in (source, destination):
        if isinstance(ep, Pod):
            known.setdefault(ep.namespace, {"kubernetes.io/metadata.name": ep.namespace})
    if isinstance(source, Pod) and not _admits(policies, "Egress", source, destination, port,
                                               protocol, destination, known):
        return False
    return not (isinstance(destination, Pod)
                and not _admits(policies, "Ingress", destination, source, port, protocol,
                                destination, known))


def selecting(policies: list[Policy], pod: Pod, direction: str) -> list[Policy]:
    """The policies that isolate ``pod`` in ``direction``."""
    return [p for p in policies if p.namespace == pod.namespace and direction in p.types
            and selector_matches(p.pod_selector, pod.labels)]


def confinement_problem(policies: list[Policy], pod: Pod) -> str | None:
    """Why ``pod`` (a workspace about to start) would not be confined, or None.

    What every workspace needs whatever else the policies allow: isolated both ways,
    no way to the internet or the cloud metadata service, none to a twin of itself
    (another workspace with the same labels)."""
    for direction in ("Ingress", "Egress"):
        if not selecting(policies, pod, direction):
            return f"no NetworkPolicy isolates its {direction.lower()}"
    for outside in (External("the internet", "8.8.8.8"),
                    External("the cloud metadata service", "169.254.169.254")):
        for port in (80, 443):
            if allowed(policies, pod, outside, port):
                return f"the NetworkPolicies let it reach {outside.name} ({outside.ip}:{port})"
    twin = Pod(pod.name + "-twin", pod.namespace, pod.labels, "0.0.0.1", pod.ports)
    if allowed(policies, pod, twin, 8888) or allowed(policies, twin, pod, 8888):
        return "the NetworkPolicies let workspaces reach each other"
    return None
