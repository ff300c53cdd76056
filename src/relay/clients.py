"""Who is on the other end: the client address, from the socket or a trusted proxy."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(trusted_proxies: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in trusted_proxies.split(",")
        if entry.strip()
    )


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: str) -> str:
    """The socket's peer, unless it is a trusted proxy: then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy. A client cannot
    choose its address by sending the header itself."""
    address = request.client.host if request.client else "unknown"
    networks = _networks(trusted_proxies)
    if not networks or not _is_trusted(address, networks):
        return address
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    for hop in reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()]):
        if not _is_trusted(hop, networks):
            return hop
        address = hop
    return address
