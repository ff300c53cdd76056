"""The owner is never locked out by someone else's guesses: a browser that signed in to
the account before (its device cookie) is counted apart from everyone else, and
second-factor guesses are bounded per account per day.

The review's attack: one wrong password every 30.02 s, each from a new address, kept
the owner out indefinitely (429 at every Retry-After); at that pace someone with the
password had about 2,880 code guesses a day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from relay.accounts.sign_in import SECOND_FACTOR_DAILY_LIMIT
from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from tests.accounts.conftest import secure_settings
from tests.accounts.helpers import code_step, owner_with_two_factor, password_step
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, post_form, sign_in, sign_up
from tests.mail_server import MailServer

DEVICE = "relay_device"
NEW_PASSWORD = "a brand new passphrase"


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


async def test_codes_sent_at_one_moment_cannot_slip_past_the_days_bound(
    no_backoff_app: FastAPI, db: Database
) -> None:
    """The second review: 40 wrong codes at once had 29 checked against a bound of 10,
    each seeing the others still pending. Attempts being checked count now."""
    app = no_backoff_app
    async with asgi_client(app, "198.51.100.80") as owner:
        user, _factor = await owner_with_two_factor(db, owner)
    async with AsyncExitStack() as stack:
        guessers = [
            await stack.enter_async_context(asgi_client(app, f"203.0.113.{number}"))
            for number in range(1, 25)
        ]
        for guesser in guessers:
            await password_step(guesser, user.email)
        tokens = [csrf_of((await guesser.get("/login/two-factor")).text) for guesser in guessers]
        answers = await asyncio.gather(
            *(
                guesser.post("/login/two-factor", data={"csrf_token": token, "code": "000000"})
                for guesser, token in zip(guessers, tokens, strict=True)
            )
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) <= SECOND_FACTOR_DAILY_LIMIT
    assert statuses.count(401) + statuses.count(429) == len(guessers)


async def test_a_recovery_code_is_taken_when_the_days_codes_are_used_up(
    no_backoff_app: FastAPI, db: Database
) -> None:
    """Someone with the password used up the day's wrong codes: the owner's recovery
    code (50 bits; not bounded so) still signs in from a new browser."""
    app = no_backoff_app
    async with asgi_client(app, "198.51.100.90") as owner:
        user, factor = await owner_with_two_factor(db, owner)
    for number in range(SECOND_FACTOR_DAILY_LIMIT):
        async with asgi_client(app, f"203.0.113.{120 + number}") as guesser:
            await password_step(guesser, user.email)
            await code_step(guesser, "000000")
    async with asgi_client(app, "198.51.100.91") as new_browser:
        await password_step(new_browser, user.email)
        assert (await code_step(new_browser, factor.next_code())).status_code == 429
        await password_step(new_browser, user.email)
        signed_in = await code_step(new_browser, factor.recovery_codes[0])
        assert signed_in.status_code == 303


async def test_a_new_password_forgets_every_other_known_browser(app: FastAPI) -> None:
    """A device cookie from before a password change (or a reset, or turning two-factor
    on) no longer counts: only the browser that made the change stays known."""
    email = new_email()
    async with (
        asgi_client(app, "198.51.100.60") as earlier,
        asgi_client(app, "198.51.100.61") as changer,
    ):
        await sign_up(earlier, email)
        await sign_in(changer, email)
        changed = await post_form(
            changer,
            "/settings/account",
            "/settings/account/password",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert changed.status_code == 303
        signed_out(earlier)
        signed_out(changer)
        await guesses_from_elsewhere(app, email, 8, first=40)
        assert (await sign_in(earlier, email, NEW_PASSWORD)).status_code == 429
        assert (await sign_in(changer, email, NEW_PASSWORD)).status_code == 303
