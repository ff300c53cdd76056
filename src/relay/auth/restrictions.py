"""What a key is limited to within its tenant, beyond its scopes and rate limit: the
datasets it reaches (`dataset_ids`) and the addresses it may be used from
(`allowed_ips`). Pure rules, no I/O: how the stored values read, whether an address
is allowed, and whether one key's restrictions are within another's (a key makes,
rotates and changes only keys at least as limited as itself).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Sequence

from relay.clients import Network, ip_of

MAX_DATASET_IDS = 100
MAX_ALLOWED_IPS = 50

DatasetIds = frozenset[uuid.UUID]
Networks = tuple[Network, ...]


def dataset_ids_of(stored: Sequence[str] | None) -> DatasetIds | None:
    """A key's dataset ids as stored (JSON strings); None: every dataset."""
    return None if stored is None else frozenset(uuid.UUID(value) for value in stored)


def networks_of(stored: Sequence[str] | None) -> Networks | None:
    """A key's allowed networks as stored ("203.0.113.0/24"); None: anywhere."""
    return None if stored is None else tuple(ipaddress.ip_network(value) for value in stored)


def parse_networks(values: Iterable[str]) -> list[str]:
    """Addresses or networks as a person writes them, as stored: each in its canonical
    form ("2001:DB8::/32" -> "2001:db8::/32", "198.51.100.7" -> "198.51.100.7/32").
    ValueError for one that is not an address or a network (host bits set included)."""
    return [str(ipaddress.ip_network(value.strip())) for value in values]


def allows(networks: Networks | None, address: str) -> bool:
    """Whether a key limited to `networks` may be used from `address`."""
    if networks is None:
        return True
    ip = ip_of(address)
    if ip is None:
        return False  # an address Relay could not read ("unknown") is nowhere allowed
    return any(ip.version == network.version and ip in network for network in networks)


def datasets_within(key: DatasetIds | None, bound: DatasetIds | None) -> bool:
    """Whether a key reaching `key` reaches no dataset a key reaching `bound` does not."""
    return bound is None or (key is not None and key <= bound)


def networks_within(key: Networks | None, bound: Networks | None) -> bool:
    """Whether every network of `key` lies within one of `bound`'s."""
    if bound is None:
        return True
    if key is None:
        return False
    return all(
        any(
            network.version == outer.version and network.subnet_of(outer)  # type: ignore[arg-type]
            for outer in bound
        )
        for network in key
    )
