"""The end user behind a request: the address and user agent that calls made on their behalf
(login, refresh, logout through this service) forward to the auth server.

Without it the auth server sees one client, this service, and counts every user against one
per-IP budget: one person's bad logins would lock everybody out. The auth server believes the
forwarded values only alongside this service's credential (X-Service-Token).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EndUser:
    ip_address: str
    user_agent: str = ""


def end_user_of(meta: Mapping[str, Any], trusted: Sequence[IPNetwork]) -> EndUser | None:
    """The caller of a Django request (its META): the TCP peer, or, when the peer is one of
    the `trusted` proxies, the address they put in X-Forwarded-For, read from the right."""
    peer = _address(str(meta.get("REMOTE_ADDR") or ""))
    if peer is None:
        return None
    if _trusted(peer, trusted):
        hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
        for hop in reversed([h for h in hops if h]):
            address = _address(hop)
            # A malformed entry: believe nothing further left (the client may have written it).
            if address is None:
                break
            peer = address
            if not _trusted(address, trusted):
                break
    # Bounded as the auth server stores it: a header is no place for a novel.
    return EndUser(str(peer), str(meta.get("HTTP_USER_AGENT", ""))[:300])


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Comma-separated IPs or CIDRs (ValueError names the bad one)."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False)
        for item in value.split(",")
        if item.strip()
    )


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]
) -> bool:
    return any(address in network for network in trusted)
