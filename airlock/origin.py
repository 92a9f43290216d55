"""Inside or outside: where a call to the airlock comes from, decided here and only here.

A call is from **inside** a workspace (:attr:`Origin.WORKSPACE`) only when both say so:

- the **network**: the connection's peer address is in one of the workspace
  networks' subnets (``TRE_AIRLOCK_WORKSPACE_NETWORKS``) and the call came
  straight from there: a call that carries ``X-Forwarded-For`` or ``Forwarded``
  came through a proxy, or says it did, so it is outside.  (``tre airlock serve``
  lets uvicorn take the client's address from those headers when the peer is
  loopback, the hub's proxy; a workspace reaches the airlock directly, never
  through the proxy.)  The proxy, which carries every browser's traffic, connects
  from loopback, which is never a workspace network;
- the **credential**: a hub API token, which is what a workspace holds
  (``JUPYTERHUB_API_TOKEN``).  A browser session (the pages' cookie, or a hub OAuth
  token, which has a ``session_id``) is outside wherever it comes from: the browser
  is on the researcher's own machine.  A service's token is not a workspace.

The hub's ``/user`` answer does not tell a workspace's server token from an API
token the user made (JupyterHub itself tells them apart only by the token's note,
which a user can choose), so between those two the network decides.  Anything
unknown (no address, an address that is not an IP, no networks configured) is
outside: fail closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from enum import StrEnum

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Origin(StrEnum):
    WORKSPACE = "workspace"  # inside a workspace of the TRE
    OUTSIDE = "outside"  # a browser, a laptop, anything else


class Credential(StrEnum):
    API_TOKEN = "api_token"  # a hub API token: a workspace's, or one the user made
    BROWSER = "browser"  # the pages' session cookie, or a hub OAuth (browser) token
    SERVICE = "service"  # a hub service's token
    UNKNOWN = "unknown"


# The widest workspace network accepted, by IP version: anything wider (0.0.0.0/0, a
# typo's /1) would make half the world "inside".  The chart's schema says the same.
WIDEST_PREFIX = {4: 8, 6: 32}


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """CIDR strings as networks; ``ValueError`` names the one that is not, or that is
    wider than :data:`WIDEST_PREFIX` allows."""
    out = []
    for value in values:
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not a network (write it as CIDR, e.g. "
                             "172.30.0.0/16)") from None
        widest = WIDEST_PREFIX[net.version]
        if net.prefixlen < widest:
            raise ValueError(f"{value!r} is wider than /{widest}: name the networks the "
                             "workspaces get their addresses from, not a whole range "
                             "of the internet")
        out.append(net)
    return tuple(out)


def origin_of(address: str | None, credential: Credential,
              networks: Sequence[Network], *, forwarded: bool = False) -> Origin:
    """The one decision: inside only for a hub API token straight from a workspace
    network.  ``forwarded``: the call carries a forwarding header."""
    if credential is not Credential.API_TOKEN or forwarded or not address or not networks:
        return Origin.OUTSIDE
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return Origin.OUTSIDE
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:172.30.0.5 from a dual-stack socket
    if ip.is_loopback or ip.is_unspecified:
        return Origin.OUTSIDE  # the proxy and the host itself: never a workspace
    return Origin.WORKSPACE if any(ip in net for net in networks) else Origin.OUTSIDE

