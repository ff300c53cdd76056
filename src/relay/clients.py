"""Who is on the other end: the client address, from the socket or a trusted proxy.

An address is always one Relay can keep (an IP address in its canonical form, at
most 45 characters, or "unknown"): an X-Forwarded-For entry that is not an IP
address is ignored, and the nearest trusted hop (the proxy) is the client then. An
outside review had a 70-character entry from a trusted proxy answered 500 and then
fail a worker's key activity flush every second.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
# "198.51.100.7:8080" and "[2001:db8::1]:443": an address some proxies send with a port.
_WITH_PORT = re.compile(r"\[(?P<v6>[0-9A-Fa-f:.]+)\](?::\d{1,5})?|(?P<v4>[0-9.]+):\d{1,5}")


@lru_cache(maxsize=8)
def trusted_networks(trusted_proxies: str) -> tuple[Network, ...]:
    """RELAY_TRUSTED_PROXIES ("10.0.0.0/8, 192.0.2.1") as networks."""
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in trusted_proxies.split(",")
        if entry.strip()
    )


@lru_cache(maxsize=1024)
def parse_address(text: str) -> str | None:
    """`text` as a canonical IP address (a port or brackets around it dropped); None
    when it is not one (a name, garbage, an IPv6 zone). Every request parses its peer's
    address: remembered for the last 1,024 texts (5.3 µs a parse, 0.1 remembered)."""
    text = text.strip()
    if len(text) > 60 or "%" in text:  # the longest with brackets and a port is 53
        return None
    bracketed = _WITH_PORT.fullmatch(text)
    if bracketed:
        text = bracketed.group("v6") or bracketed.group("v4")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(address)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=1024)
def ip_of(address: str) -> IPAddress | None:
    """A client address (as client_address gives it) as an IP address to look up in
    networks, an IPv4-mapped IPv6 address as the IPv4 one; None for "unknown".
    Remembered for the last 1,024 addresses: a key limited to addresses looks its
    client up on every request."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: str) -> str:
    """The socket's peer, unless it is a trusted proxy: then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy. A client cannot
    choose its address by sending the header itself, and an entry that is no
    address is never believed: the nearest trusted hop is used instead."""
    peer = request.client.host if request.client else UNKNOWN
    address = parse_address(peer) or UNKNOWN
    networks = trusted_networks(trusted_proxies)
    if not networks or not is_trusted(address, networks):
        return address
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    for entry in reversed([entry for entry in forwarded.split(",") if entry.strip()]):
        hop = parse_address(entry)
        if hop is None:
            return address
        if not is_trusted(hop, networks):
            return hop
        address = hop
    return address
