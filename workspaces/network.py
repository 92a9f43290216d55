"""Workspace networks and the host firewall that confines them.

Each workspace (a user in a project) gets a Docker network of its own, named like
its bridge, ``tre-ws-<11 hex>`` (the prefix is the :class:`Scope`; tests use their
own), on a small subnet of its own (a /28 of ``TRE_WORKSPACE_SUBNETS``).  Alone on
its network, a workspace can resolve no other workspace's name through Docker's
embedded DNS (127.0.0.11 answers for the containers of the networks a container is
on, by name and by address), nor reach one:

* ``internal``: Docker forwards nothing between it and any other network (a
  workspace still has a default route to the gateway: Docker 20.10 installs one
  even on internal networks, which is one more reason for the firewall below);
* inter-container traffic disabled (``enable_icc=false``), a second lock;
* a fixed bridge name, ``tre-ws-<hex>`` (Linux caps names at 15 characters), so the
  firewall can name every workspace bridge with one wildcard, ``tre-ws-+``.

:func:`ensure_network` without a user makes one network per project (the network
tests use that); the spawner always passes the user.

An internal network still lets a container reach every service the *host* exposes
on the bridge's gateway (a socket bound to 0.0.0.0 listens there too).  So the host
firewall (chain ``TRE-WS-INPUT``, jumped to first from ``INPUT``) accepts, from any
workspace bridge, only the hub API and airlock ports and replies to connections the
host opened (the proxy talking to JupyterLab), and rejects everything else.  A
bridge created later is covered the moment it exists: the rules match the prefix,
so a new project never runs unprotected.  The same chain refuses the hub API and
airlock ports on every interface except loopback and the workspace bridges, since
the hub listens on all addresses to be reachable from every project's gateway.
``TRE-WS-FORWARD`` drops anything forwarded to or from a workspace bridge (a second
lock behind Docker's own isolation and ICC rules), and IPv6 is dropped outright.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tre.catalog.names import check_name
from tre.errors import TreError

DEFAULT_PREFIX = "tre-ws-"
PROJECT_LABEL = "org.tre.project"
USER_LABEL = "org.tre.user"
SUBNET_PREFIX = 28  # 14 addresses: the gateway and one workspace need two
DEFAULT_SUBNETS = "10.213.0.0/16"
SCOPE_LABEL = "org.tre.scope"
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,5}-$")
# A workspace resolves no names: its resolver asks its own loopback, where nothing
# listens, so lookups fail at once (Docker's embedded DNS would take 10 s to time out,
# and would forward the query out of the host).
RESOLV_CONF = (
    "# tre: workspaces resolve no names\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
)


class NetworkError(TreError, RuntimeError):
    """A network or firewall operation failed; the message says what to do."""

    code = "network"
    status = 500


@dataclass(frozen=True)
class Scope:
    """The names tre's networks, bridges and chains share (one TRE per scope).

    Production uses ``tre-ws-``; tests use their own scope so that they never touch
    the rules of a TRE running on the same machine.
    """

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise NetworkError(
                f"invalid network prefix {self.prefix!r}: 2 to 7 characters, lowercase "
                "letters, digits and '-', ending with '-' (bridge names are capped at 15)"
            )

    @property
    def wildcard(self) -> str:
        """Every bridge of this scope, in iptables' interface syntax."""
        return self.prefix + "+"

    @property
    def input_chain(self) -> str:
        return self.prefix.rstrip("-").upper() + "-INPUT"

    @property
    def forward_chain(self) -> str:
        return self.prefix.rstrip("-").upper() + "-FORWARD"

    def network_name(self, project: str) -> str:
        return self.prefix + check_project_name(project)

    def bridge_name(self, project: str, user: str | None = None) -> str:
        """Fixed, short (<= 15 characters) and distinct per project (and user)."""
        key = check_project_name(project) if user is None else workspace_key(user, project)
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.prefix + digest[: 15 - len(self.prefix)]

    def workspace_network_name(self, user: str, project: str) -> str:
        """Opaque: a user's name appears in no network name (it is seen inside)."""
        return self.bridge_name(project, user)


def workspace_key(user: str, project: str) -> str:
    """One string per (user, project); NUL cannot occur in either."""
    if not user or "\0" in user:
        raise NetworkError("a workspace network needs its user's name")
    return f"{user}\0{check_project_name(project)}"


DEFAULT_SCOPE = Scope()


@dataclass(frozen=True)
class ProjectNetwork:
    project: str
    name: str
    bridge: str
    subnet: str
    gateway: str
    user: str = ""


def check_project_name(project: str) -> str:
    try:
        return check_name(project, "project name")
    except ValueError as exc:
        raise NetworkError(str(exc)) from None


def _from_inspect(info: dict[str, Any]) -> ProjectNetwork:
    config = (info.get("IPAM") or {}).get("Config") or [{}]
    options = info.get("Options") or {}
    labels = info.get("Labels") or {}
    return ProjectNetwork(
        project=labels.get(PROJECT_LABEL, ""),
        name=info["Name"],
        bridge=options.get("com.docker.network.bridge.name", ""),
        subnet=config[0].get("Subnet", ""),
        gateway=config[0].get("Gateway", ""),
        user=labels.get(USER_LABEL, ""),
    )


def candidate_subnets(pool: str, key: str, tries: int = 64) -> list[str]:
    """/28 blocks of ``pool`` to try, starting at one chosen by ``key`` (so parallel
    spawns rarely try the same block first)."""
    try:
        net = ipaddress.IPv4Network(pool)
    except ValueError as exc:
        raise NetworkError(f"TRE_WORKSPACE_SUBNETS: {exc} (e.g. {DEFAULT_SUBNETS})") from None
    if net.prefixlen > SUBNET_PREFIX - 2:
        raise NetworkError(f"TRE_WORKSPACE_SUBNETS: {pool} is too small; give a /"
                           f"{SUBNET_PREFIX - 2} or larger (e.g. {DEFAULT_SUBNETS})")
    blocks = 2 ** (SUBNET_PREFIX - net.prefixlen)
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % blocks
    size = 2 ** (32 - SUBNET_PREFIX)
    return [str(ipaddress.IPv4Network((int(net.network_address) + ((start + i) % blocks) * size,
                                       SUBNET_PREFIX)))
            for i in range(min(tries, blocks))]


def ensure_network(client: Any, project: str, scope: Scope = DEFAULT_SCOPE,
                   user: str | None = None, subnets: str = DEFAULT_SUBNETS) -> ProjectNetwork:
    """The workspace's (or, without ``user``, the project's) network, created when
    missing (``client``: docker.APIClient)."""
    import docker.errors
    import docker.types

    if user is None:
        name, bridge = scope.network_name(project), scope.bridge_name(project)
        labels = {PROJECT_LABEL: project, SCOPE_LABEL: scope.prefix}
        choices: list[str | None] = [None]  # Docker's own address pools
    else:
        name = bridge = scope.workspace_network_name(user, project)
        labels = {PROJECT_LABEL: project, SCOPE_LABEL: scope.prefix, USER_LABEL: user}
        choices = list(candidate_subnets(subnets, workspace_key(user, project)))
    try:
        return _from_inspect(client.inspect_network(name))
    except docker.errors.NotFound:
        pass
    last = ""
    for subnet in choices:
        # The gateway named, or Docker leaves it out of what it reports.
        ipam = None if subnet is None else docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet=subnet,
                                  gateway=str(next(ipaddress.IPv4Network(subnet).hosts())))])
        try:
            client.create_network(
                name,
                driver="bridge",
                internal=True,
                check_duplicate=True,
                labels=labels,
                ipam=ipam,
                options={
                    "com.docker.network.bridge.name": bridge,
                    "com.docker.network.bridge.enable_icc": "false",
                    # Nothing is to leave an internal bridge, so nothing to masquerade.
                    "com.docker.network.bridge.enable_ip_masquerade": "false",
                },
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # another spawn created it first
                break
            last = str(exc.explanation)
            if subnet is not None and "overlap" in last.lower():
                continue  # that block is taken: the next one
            raise NetworkError(f"cannot create network {name}: {last}") from exc
        break
    else:
        raise NetworkError(f"cannot create network {name}: no free /{SUBNET_PREFIX} in "
                           f"TRE_WORKSPACE_SUBNETS={subnets} ({last}); give a larger range")
    return _from_inspect(client.inspect_network(name))


def list_networks(client: Any, scope: Scope = DEFAULT_SCOPE) -> list[ProjectNetwork]:
    found = client.networks(filters={"label": f"{SCOPE_LABEL}={scope.prefix}"})
    nets = (_from_inspect(client.inspect_network(n["Id"])) for n in found)
    return sorted(nets, key=lambda n: n.name)


def remove_network(client: Any, project: str, scope: Scope = DEFAULT_SCOPE) -> bool:
    """Remove the project's network; False when it did not exist."""
    return remove_network_named(client, scope.network_name(project))


def remove_network_named(client: Any, name: str) -> bool:
    """Remove a network by name; False when it did not exist."""
    import docker.errors

    try:
        client.remove_network(name)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        raise NetworkError(
            f"cannot remove network {name}: {exc.explanation} (stop its workspaces first)"
        ) from exc
    return True


def container_network_config(net: ProjectNetwork) -> dict[str, Any]:
    """Host-config settings every container on a workspace network gets.

    ``dns``: Docker's embedded resolver (127.0.0.11, which a user can still query
    directly) forwards to the bridge's gateway, where the firewall rejects it.
    ``sysctls``: no IPv6, so no link-local path to the host (the IPv6 firewall drops
    it too).  The resolv.conf that points at loopback is mounted by the caller
    (:data:`RESOLV_CONF`), since that needs a host file.
    """
    return {
        "network_mode": net.name,
        "dns": [net.gateway],
        "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1",
                    "net.ipv6.conf.default.disable_ipv6": "1"},
    }


# ---- host firewall ---------------------------------------------------------------------------


def _dports(ports: Sequence[int]) -> str:
    if not ports:
        raise NetworkError("the firewall needs the hub API and airlock ports")
    return ",".join(str(p) for p in sorted(set(ports)))


def input_rules(scope: Scope, ports: Sequence[int]) -> list[list[str]]:
    """The IPv4 rules of the scope's INPUT chain, in order (without ``-A CHAIN``)."""
    ws = ["-i", scope.wildcard]
    return [
        # Replies to connections the host opened (the proxy and hub talk to JupyterLab).
        [*ws, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
        [*ws, "-p", "tcp", "-m", "multiport", "--dports", _dports(ports), "-j", "ACCEPT"],
        # Reject rather than drop: tools inside fail at once instead of hanging.
        [*ws, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
        [*ws, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
        # The hub and airlock listen on every address (one per project gateway), so
        # refuse their ports everywhere else but loopback.
        ["!", "-i", "lo", "-p", "tcp", "-m", "multiport", "--dports", _dports(ports),
         "-j", "DROP"],
    ]


def input6_rules(scope: Scope, ports: Sequence[int]) -> list[list[str]]:
    return [
        ["-i", scope.wildcard, "-j", "DROP"],
        ["!", "-i", "lo", "-p", "tcp", "-m", "multiport", "--dports", _dports(ports),
         "-j", "DROP"],
    ]


def forward_rules(scope: Scope) -> list[list[str]]:
    return [["-i", scope.wildcard, "-j", "DROP"], ["-o", scope.wildcard, "-j", "DROP"]]


@dataclass(frozen=True)
class _Table:
    tool: str
    chains: dict[str, tuple[str, list[list[str]]]]  # our chain -> (built-in chain, rules)


def _tables(scope: Scope, ports: Sequence[int]) -> list[_Table]:
    fwd = ("FORWARD", forward_rules(scope))
    return [
        _Table("iptables", {scope.input_chain: ("INPUT", input_rules(scope, ports)),
                            scope.forward_chain: fwd}),
        _Table("ip6tables", {scope.input_chain: ("INPUT", input6_rules(scope, ports)),
                             scope.forward_chain: fwd}),
    ]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NetworkError(f"{name} not found: install iptables (Debian: apt-get install iptables)")
    return path


def _ipt(tool: str, *args: str, check: bool = True) -> bool:
    proc = subprocess.run([_tool(tool), "-w", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetworkError(
            f"{tool} {' '.join(args)}: {proc.stderr.strip() or proc.returncode} "
            "(changing the firewall needs root)"
        )
    return proc.returncode == 0


def _restore(table: _Table) -> None:
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in table.chains)]
    for chain, (_, rules) in table.chains.items():
        lines += [" ".join(["-A", chain, *rule]) for rule in rules]
    script = "\n".join([*lines, "COMMIT", ""])
    tool = _tool(table.tool + "-restore")
    proc = subprocess.run([tool, "-w", "--noflush"], input=script, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise NetworkError(f"{tool}: {proc.stderr.strip()} (changing the firewall needs root)")


def apply_firewall(ports: Sequence[int], scope: Scope = DEFAULT_SCOPE) -> None:
    """Install or replace the scope's chains atomically, then make sure they are jumped to.

    ``iptables-restore --noflush`` replaces the chains it declares in one commit, so
    there is no moment at which an old rule is gone and its successor not yet in.
    """
    for table in _tables(scope, ports):
        _restore(table)
        for chain, (builtin, _) in table.chains.items():
            if not _ipt(table.tool, "-C", builtin, "-j", chain, check=False):
                _ipt(table.tool, "-I", builtin, "1", "-j", chain)


def firewall_installed(ports: Sequence[int], scope: Scope = DEFAULT_SCOPE) -> bool:
    """True when every rule of the scope for these ports is in place and jumped to."""
    for table in _tables(scope, ports):
        for chain, (builtin, rules) in table.chains.items():
            if not _ipt(table.tool, "-C", builtin, "-j", chain, check=False):
                return False
            if not all(_ipt(table.tool, "-C", chain, *rule, check=False) for rule in rules):
                return False
    return True


def remove_firewall(scope: Scope = DEFAULT_SCOPE) -> None:
    """Remove the scope's chains and their jumps (idempotent)."""
    for tool in ("iptables", "ip6tables"):
        for chain, builtin in ((scope.input_chain, "INPUT"), (scope.forward_chain, "FORWARD")):
            while _ipt(tool, "-D", builtin, "-j", chain, check=False):
                pass
            if _ipt(tool, "-F", chain, check=False):
                _ipt(tool, "-X", chain)
