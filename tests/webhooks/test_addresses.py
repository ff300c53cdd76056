"""No server-side request forgery: a webhook URL reaching a loopback, private,
link-local (metadata), shared, multicast or unspecified address is refused when it is
registered and again before each send, unless RELAY_WEBHOOK_ALLOW_PRIVATE lifts it.

Nothing here may reach an address off loopback: refusals are tested with loopback
addresses and names, and the other ranges through a stub resolver with the refusal on
(and `check` alone, where nothing could be sent whatever it answered). The check
before each send: test_send_time_checks.py."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from relay.webhooks.addresses import UrlPolicy, UrlRefused, check
from tests.factories import TenantFixture
from tests.webhooks.conftest import ENDPOINTS

# What the stub resolver answers: never asked of a real resolver, never connected to.
STUB_DNS = {
    "metadata.test": ["169.254.169.254"],
    "private.test": ["10.1.2.3"],
    "corp.test": ["192.168.0.10"],
    "cgnat.test": ["100.64.0.7"],
    "multicast.test": ["224.0.0.251"],
    "unspecified.test": ["0.0.0.0"],  # noqa: S104 (a resolver's answer, never bound)
    "ula.test": ["fd00:ec2::254"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.test": ["2002:7f00:1::"],
    # The review's: forms an older Python's is_global passes, reaching private IPv4.
    "nat64-local.test": ["64:ff9b:1::a9fe:a9fe"],
    "compatible.test": ["::a9fe:a9fe"],
    "siit.test": ["::ffff:0:7f00:1"],
    "discard.test": ["100::1"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],
    "public.test": ["93.184.216.34"],
    "public-mapped.test": ["::ffff:93.184.216.34"],
}


async def stub_resolver(host: str, port: int) -> list[str]:
    return STUB_DNS.get(host, [])


def refusing(app: FastAPI) -> UrlPolicy:
    """The app's URL policy with the refusal on and the stub resolver."""
    policy: UrlPolicy = app.state.webhook_urls
    policy.allow_private = False
    policy.resolve = stub_resolver
    return policy


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",
        "http://[::1]:9/hooks",
        "http://localhost:9/hooks",
        "https://127.1.2.3/hooks",
        "http://metadata.test/latest/meta-data/",
        "http://private.test/hooks",
        "https://ula.test/hooks",
        "http://mapped.test/hooks",
        "http://nat64.test/hooks",
    ],
)
async def test_registration_refuses_urls_reaching_non_public_addresses(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture, url: str
) -> None:
    policy = refusing(app)
    if "localhost" in url:
        policy.resolve = UrlPolicy(allow_private=False).resolve  # the real resolver: loopback
    response = await client.post(
        ENDPOINTS, json={"url": url, "events": ["*"]}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "url"]
    assert problem["type"] == "url_refused"
    assert "public addresses" in problem["msg"]
    listed = (await client.get(ENDPOINTS, headers=tenant_a.headers)).json()
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.test/hooks", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http://user:pass@public.test/hooks", "user name or password"),
        ("http://nowhere.test/hooks", "does not resolve"),
        ("not a url", "Only http:// and https://"),
    ],
)
async def test_registration_refuses_what_is_not_a_public_http_url(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture, url: str, reason: str
) -> None:
    refusing(app)
    response = await client.post(
        ENDPOINTS, json={"url": url, "events": ["*"]}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("host", sorted(STUB_DNS))
async def test_every_non_public_range_is_refused_and_public_names_pass(host: str) -> None:
    url = f"https://{host}/hooks"
    if host == "public.test":
        checked = await check(url, allow_private=False, resolve=stub_resolver)
        assert checked.addresses == ("93.184.216.34",)
        assert str(checked.at(checked.addresses[0])) == "https://93.184.216.34/hooks"
        return
    if host == "public-mapped.test":  # a public address in IPv6 clothes passes
        checked = await check(url, allow_private=False, resolve=stub_resolver)
        assert checked.addresses == ("::ffff:93.184.216.34",)
        return
    with pytest.raises(UrlRefused):
        await check(url, allow_private=False, resolve=stub_resolver)
