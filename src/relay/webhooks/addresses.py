"""Where a webhook may be sent: no server-side request forgery.

An endpoint's URL is http(s), names no user or password, and its host (an address, or a
name as the event loop's resolver answers for it) is public: no loopback, private
(RFC 1918, unique local), link-local (cloud metadata at 169.254.169.254 among them),
shared (CGNAT, 100.64/10), multicast, unspecified, documentation or other reserved
address, nor one of those wrapped in IPv6 (mapped, NAT64, 6to4, Teredo). The check
runs when the URL is registered and again before each send, and the sender connects
to the very address it checked (the name stays in the Host header and TLS's server
name): a name that resolves elsewhere by then (DNS rebinding) reaches nothing new.
RELAY_WEBHOOK_ALLOW_PRIVATE=true lifts the address rule, for tests and private networks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from relay.errors import InvalidInput

# (host, port) -> the addresses it resolves to; the event loop's getaddrinfo by default.
Resolver = Callable[[str, int], Awaitable[list[str]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(InvalidInput):
    """422: a webhook URL Relay will not send to (the detail says why)."""

    code = "validation_error"
    error_type = "url_refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, loc=("body", "url"))


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, by the event loop's getaddrinfo."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# IPv6 ranges that can reach a private IPv4 address or this host, whatever an older
# Python's `is_global` says of them (checked once the forms that embed an IPv4 address
# are decoded): IPv4-compatible and SIIT forms (in ::/8), the local-use NAT64 prefix
# (RFC 8215) and the discard prefix.
_NEVER_GLOBAL_V6 = tuple(
    ipaddress.IPv6Network(network) for network in ("::/8", "64:ff9b:1::/48", "100::/64")
)


def forbidden(address: Address) -> bool:
    """True for an address no webhook may reach (see the module)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return forbidden(embedded)
        if any(address in network for network in _NEVER_GLOBAL_V6):
            return True
    return not address.is_global or address.is_multicast


class UrlPolicy:
    """How this app checks webhook URLs: whether private addresses are allowed, and the
    resolver (tests put a stub resolver here to check names they cannot own)."""

    def __init__(self, *, allow_private: bool, resolve: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    async def check(self, url: str) -> CheckedUrl:
        """See the module-level `check`."""
        return await check(url, allow_private=self.allow_private, resolve=self.resolve)


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that may be sent to, and the addresses it was found to reach."""

    url: httpx.URL
    addresses: tuple[str, ...]

    def at(self, address: str) -> httpx.URL:
        """The URL with its host replaced by `address`, to connect to that address."""
        return self.url.copy_with(host=address)


def parse(url: str) -> httpx.URL:
    """The URL, or UrlRefused when it is not one webhooks take (before any resolving)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise UrlRefused("Not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs can receive webhooks")
    if not parsed.host:
        raise UrlRefused("The URL names no host")
    if parsed.userinfo:
        raise UrlRefused("The URL may not hold a user name or password")
    if parsed.fragment:
        raise UrlRefused("The URL may not have a #fragment")
    return parsed


async def check(url: str, *, allow_private: bool, resolve: Resolver) -> CheckedUrl:
    """The URL and the addresses to send it to; UrlRefused for one not to send to."""
    parsed = parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(parsed.host))]
    except ValueError:
        try:
            addresses = await resolve(parsed.host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise UrlRefused("The URL's host name does not resolve") from None
    if not allow_private:
        for address in addresses:
            if forbidden(ipaddress.ip_address(address.partition("%")[0])):
                raise UrlRefused(
                    "The URL reaches a loopback, private, link-local or otherwise "
                    "non-public address: webhooks are only sent to public addresses"
                )
    return CheckedUrl(parsed, tuple(addresses))
