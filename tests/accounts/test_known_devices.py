"""The owner is never locked out by someone else's guesses: a browser that signed in to
the account before (its device cookie) is counted apart from everyone else, and
second-factor guesses are bounded per account per day.

The review's attack: one wrong password every 30.02 s, each from a new address, kept
the owner out indefinitely (429 at every Retry-After); at that pace someone with the
password had about 2,880 code guesses a day."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay.dashboard.signin import SECOND_FACTOR_DAILY_LIMIT
from relay.db import Database
from tests.accounts.conftest import secure_settings
from tests.accounts.helpers import code_step, owner_with_two_factor, password_step
from tests.conftest import asgi_client
from tests.dashboard.helpers import new_email, sign_in, sign_up
from tests.mail_server import MailServer

DEVICE = "relay_device"


async def guesses_from_elsewhere(app: FastAPI, email: str, count: int, first: int = 1) -> None:
    """`count` wrong passwords for `email`, each from an address of its own."""
    for number in range(first, first + count):
        async with asgi_client(app, f"203.0.113.{number}") as guesser:
            answer = await sign_in(guesser, email, "not the password")
            assert answer.status_code in (401, 429)


def signed_out(client: httpx.AsyncClient) -> None:
    """The session gone, the device cookie kept: as after signing out."""
    client.cookies.delete("relay_session")


async def test_a_known_browser_gets_in_while_guesses_keep_the_account_in_back_off(
    app: FastAPI,
) -> None:
    email = new_email()
    async with (
        asgi_client(app, "198.51.100.20") as owner,
        asgi_client(app, "198.51.100.21") as new_browser,
    ):
        await sign_up(owner, email)
        assert DEVICE in owner.cookies
        signed_out(owner)
        await guesses_from_elsewhere(app, email, 8)

        refused = await sign_in(new_browser, email)  # the right password, waiting
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        assert (await sign_in(owner, email)).status_code == 303


async def test_a_known_browser_is_not_paused_with_its_address(app: FastAPI) -> None:
    """Behind the same NAT as a guesser: the address is paused, the owner's browser not."""
    email = new_email()
    async with (
        asgi_client(app, "198.51.100.30") as owner,
        asgi_client(app, "198.51.100.30") as guesser,
    ):
        await sign_up(owner, email)
        signed_out(owner)
        for _ in range(11):
            await sign_in(guesser, new_email(), "guess guess guess")
        stopped = await sign_in(guesser, email)
        assert stopped.status_code == 429
        assert "from your network" in stopped.text
        assert (await sign_in(owner, email)).status_code == 303


async def test_a_known_browsers_own_failures_still_slow_it_down(app: FastAPI) -> None:
    email = new_email()
    async with asgi_client(app, "198.51.100.40") as owner:
        await sign_up(owner, email)
        signed_out(owner)
        statuses = [(await sign_in(owner, email, "wrong password")).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]


async def test_a_device_cookie_counts_only_for_its_own_account_and_unaltered(
    app: FastAPI,
) -> None:
    victim = new_email()
    async with (
        asgi_client(app, "198.51.100.50") as attacker,
        asgi_client(app, "198.51.100.51") as victims_browser,
    ):
        await sign_up(attacker)  # a device cookie, for the attacker's own account
        await sign_up(victims_browser, victim)
        signed_out(attacker)
        await guesses_from_elsewhere(app, victim, 8, first=60)
        assert (await sign_in(attacker, victim)).status_code == 429
        cookie = attacker.cookies[DEVICE]
        attacker.cookies.set(DEVICE, cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
        assert (await sign_in(attacker, victim)).status_code == 429


@pytest.fixture
async def no_backoff_app(
    settings: Settings, db: Database, mail_server: MailServer
) -> AsyncIterator[FastAPI]:
    """Account security on, and no wait between failures (so that guesses are counted
    by the daily bound alone)."""
    app = create_app(secure_settings(settings, mail_server, signin_backoff_max=0.0))
    async with app.router.lifespan_context(app):
        yield app


async def test_second_factor_guesses_are_bounded_per_account_per_day(
    no_backoff_app: FastAPI, db: Database
) -> None:
    app = no_backoff_app
    async with asgi_client(app, "198.51.100.70") as owner:
        user, factor = await owner_with_two_factor(db, owner)
        signed_out(owner)
        for number in range(SECOND_FACTOR_DAILY_LIMIT):
            async with asgi_client(app, f"203.0.113.{100 + number}") as guesser:
                await password_step(guesser, user.email)
                assert (await code_step(guesser, "000000")).status_code == 401
        async with asgi_client(app, "203.0.113.200") as guesser:
            await password_step(guesser, user.email)
            refused = await code_step(guesser, factor.next_code())  # even the right code
            assert refused.status_code == 429
            assert "Too many wrong codes for this account today" in refused.text
            assert 0 < int(refused.headers["Retry-After"]) <= 86_400
        # The owner's own browser: its own count, so the owner still gets in.
        await password_step(owner, user.email)
        assert (await code_step(owner, factor.next_code())).status_code == 303
