"""Two-factor sign-in over HTTP: set-up with a code computed from the shown secret,
sign-in that asks for the code after the password without a session in between,
codes accepted once, recovery codes once each, turning it off, and the refusals
when RELAY_SECRET_KEY is not set."""

from __future__ import annotations

import asyncio

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import func, select, text, update

from relay.accounts.models import LoginFailure, PendingSignIn, WebSession
from relay.accounts.pending_sign_ins import CODE_ATTEMPTS, TOO_MANY_CODES
from relay.db import Database, utcnow
from tests.accounts.helpers import (
    ACCOUNT,
    SETUP,
    actions_of,
    code_step,
    make_owner,
    owner_with_two_factor,
    password_step,
    sealed_setup,
    shown_secret,
    signed_in,
)
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, csrf_of, post_form

KEYS_PAGE = "/settings/api-keys"


async def test_a_stolen_password_alone_does_not_sign_in(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, _ = await owner_with_two_factor(db, browser_a)

    # The thief has the password, and gets as far as the code page: no further.
    response = await password_step(browser_b, owner.email)
    assert "relay_session" not in response.cookies
    for page in (KEYS_PAGE, ACCOUNT, "/datasets", "/settings/members"):
        assert (await browser_b.get(page)).headers["location"] == "/login"
    for guess in ("000000", "123456", "aaaaa-bbbbb"):
        refused = await code_step(browser_b, guess)
        assert refused.status_code == 401
        assert "That code did not work" in refused.text
    assert (await browser_b.get(KEYS_PAGE)).status_code == 303
    async with db.sessionmaker() as session:
        sessions = await session.scalar(select(func.count()).select_from(WebSession))
    assert sessions == 1  # browser A's alone


async def test_the_code_after_the_password_signs_in_and_works_once(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    code = two_factor.next_code()

    await password_step(browser_b, owner.email)
    page = await browser_b.get("/login/two-factor")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text
    signed = await code_step(browser_b, code)
    assert signed.status_code == 303
    assert signed.headers["location"] == KEYS_PAGE
    assert (await browser_b.get(KEYS_PAGE)).status_code == 200

    # The same code again, even with the right password first: refused (no replay).
    browser_a.cookies.clear()
    await password_step(browser_a, owner.email)
    replayed = await code_step(browser_a, code)
    assert replayed.status_code == 401
    assert (await browser_a.get(KEYS_PAGE)).status_code == 303
    actions = await actions_of(db, owner)
    assert actions.count("user.signed_in") == 2  # the first sign-in, and B's
    assert "user.two_factor_enabled" in actions
    assert actions[-1] == "user.sign_in_failed"


async def test_recovery_codes_work_once_each(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    assert len(two_factor.recovery_codes) == 10
    assert len(set(two_factor.recovery_codes)) == 10
    first, second = two_factor.recovery_codes[:2]

    await password_step(browser_b, owner.email)
    # Typed as people type them: capitals, no hyphen, spaces around.
    assert (await code_step(browser_b, f" {first.upper().replace('-', '')} ")).status_code == 303
    browser_b.cookies.clear()
    await password_step(browser_b, owner.email)
    assert (await code_step(browser_b, first)).status_code == 401
    assert (await code_step(browser_b, second)).status_code == 303

    account = (await browser_b.get(ACCOUNT)).text
    assert "Recovery codes left: <strong>8</strong>" in account
    actions = await actions_of(db, owner)
    assert actions.count("user.recovery_code_used") == 2


async def test_set_up_needs_the_code_of_the_shown_secret(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    page = await browser_a.get(SETUP)
    assert page.headers["cache-control"] == "no-store"
    assert 'src="data:image/svg+xml' in page.text  # the QR code, drawn by the server
    secret, sealed = shown_secret(page.text), sealed_setup(page.text)
    assert secret not in sealed
    wrong = await post_form(
        browser_a, SETUP, SETUP, {"password": PASSWORD, "setup": sealed, "code": "12345"}
    )
    assert wrong.status_code == 400
    assert "That code did not match" in wrong.text
    # The page sent back keeps the secret already scanned.
    assert shown_secret(wrong.text) == secret
    forged = await post_form(
        browser_a, SETUP, SETUP, {"password": PASSWORD, "setup": sealed + "x", "code": "123456"}
    )
    assert "no longer valid" in forged.text
    account = (await browser_a.get(ACCOUNT)).text
    assert "Set up two-factor sign-in" in account


async def test_turning_it_on_needs_the_password(browser_a: httpx.AsyncClient, db: Database) -> None:
    """An outside review: a stolen session alone put the thief's authenticator on the
    account, with its recovery codes, and locked the owner out."""
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    page = (await browser_a.get(SETUP)).text
    code = pyotp.TOTP(shown_secret(page)).now()
    for password in ("not the password", ""):
        refused = await post_form(
            browser_a,
            SETUP,
            SETUP,
            {"password": password, "setup": sealed_setup(page), "code": code},
        )
        assert refused.status_code in (400, 401)
        assert 'id="setup-password-error"' in refused.text
        assert shown_secret(refused.text) == shown_secret(page)  # the scanned secret kept
    assert "Set up two-factor sign-in" in (await browser_a.get(ACCOUNT)).text  # still off


async def test_a_set_up_form_works_for_its_own_user_only(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    alice, mallory = await make_owner(db), await make_owner(db)
    await signed_in(browser_a, alice.email)
    await signed_in(browser_b, mallory.email)
    page = (await browser_a.get(SETUP)).text
    code = pyotp.TOTP(shown_secret(page)).now()
    stolen = await post_form(
        browser_b, SETUP, SETUP, {"password": PASSWORD, "setup": sealed_setup(page), "code": code}
    )
    assert stolen.status_code == 400
    assert "no longer valid" in stolen.text


async def test_wrong_codes_count_as_failed_sign_ins(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, _ = await owner_with_two_factor(db, browser_a)
    await password_step(browser_b, owner.email)
    for guess in ("111111", "222222", "333333"):
        assert (await code_step(browser_b, guess)).status_code == 401
    async with db.sessionmaker() as session:
        failures = await session.scalar(
            select(func.count()).where(
                LoginFailure.email == owner.email, LoginFailure.pending.is_(False)
            )
        )
    # Recorded exactly as wrong passwords are: the same limits apply to both.
    assert failures == 3
    assert (await actions_of(db, owner)).count("user.sign_in_failed") == 3


async def test_a_pending_sign_in_takes_five_codes_then_the_password_again(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    await password_step(browser_b, owner.email)
    for guess in ("111111", "222222", "333333", "444444", "555555"):
        assert (await code_step(browser_b, guess)).status_code == 401
    ended = await code_step(browser_b, two_factor.next_code())  # even the right code
    assert ended.status_code == 303
    assert ended.headers["location"] == "/login"
    assert TOO_MANY_CODES in (await browser_b.get("/login")).text
    assert (await browser_b.get("/login/two-factor")).headers["location"] == "/login"
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(PendingSignIn)) == 0


async def test_codes_sent_at_one_moment_count_toward_the_five(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, _ = await owner_with_two_factor(db, browser_a)
    await password_step(browser_b, owner.email)
    token = csrf_of((await browser_b.get("/login/two-factor")).text)
    guesses = [f"{number:06d}" for number in range(12)]
    answers = await asyncio.gather(
        *(browser_b.post("/login/two-factor", data={"csrf_token": token, "code": guess})
          for guess in guesses)
    )  # fmt: skip
    sent_back = [answer for answer in answers if answer.headers.get("location") == "/login"]
    assert len(sent_back) == len(guesses) - CODE_ATTEMPTS  # the rest: 401 or 429


async def test_the_sign_in_limits_stop_code_guessing(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    await password_step(browser_b, owner.email)
    # Nine failures for the email, as a guesser leaves them: a 16-second back-off.
    async with db.sessionmaker.begin() as session:
        for number in range(9):
            session.add(LoginFailure(email=owner.email, address=f"192.0.2.{number}", at=utcnow()))
    refused = await code_step(browser_b, two_factor.next_code())  # even the right code
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts for this account" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # And from an address stopped by its own failures, no code is even checked.
    async with db.sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM login_failures"))
        for _ in range(11):
            session.add(LoginFailure(email="x@example.com", address="203.0.113.20", at=utcnow()))
    stopped = await code_step(browser_b, two_factor.next_code())
    assert stopped.status_code == 429
    assert "from your network" in stopped.text
    assert (await browser_b.get(KEYS_PAGE)).status_code == 303


async def test_the_code_page_needs_this_browsers_pending_sign_in(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    async with asgi_client(secure_app) as other:
        # No pending sign-in in this browser: the code alone is nothing.
        assert (await other.get("/login/two-factor")).headers["location"] == "/login"
        given = await post_form(
            other, "/login", "/login/two-factor", {"code": two_factor.next_code()}
        )
        assert given.headers["location"] == "/login"
        assert "relay_session" not in other.cookies
        # A pending sign-in that ran out: the password again.
        await password_step(other, owner.email)
        async with db.sessionmaker.begin() as session:
            await session.execute(update(PendingSignIn).values(expires_at=utcnow()))
        late = await post_form(
            other, "/login", "/login/two-factor", {"code": two_factor.next_code()}
        )
        assert late.headers["location"] == "/login"
        assert "timed out" in (await other.get("/login")).text


async def test_one_pending_sign_in_starts_one_session_at_most(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    codes = two_factor.recovery_codes
    await password_step(browser_b, owner.email)
    token = (await browser_b.get("/login/two-factor")).text.split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    answers = await asyncio.gather(
        *(browser_b.post("/login/two-factor", data={"csrf_token": token, "code": code})
          for code in codes[:4])
    )  # fmt: skip
    signed = [answer for answer in answers if answer.headers.get("location") == KEYS_PAGE]
    assert len(signed) == 1
    async with db.sessionmaker() as session:
        sessions = await session.scalar(select(func.count()).select_from(WebSession))
    assert sessions == 2  # browser A's, and one for browser B


async def test_without_a_secret_key_two_factor_is_refused_naming_the_fix(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(client, owner.email)
    page = await client.get(SETUP)
    assert page.status_code == 200
    assert "RELAY_SECRET_KEY" in page.text
    assert "relay secret-key" in page.text
    assert 'name="setup"' not in page.text
    refused = await post_form(
        client, SETUP, SETUP, {"password": PASSWORD, "setup": "v1:abc", "code": "123456"}
    )
    assert refused.status_code == 409
    assert "relay secret-key" in refused.text


async def test_the_secret_and_recovery_codes_are_not_stored_as_given(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    _owner, two_factor = await owner_with_two_factor(db, browser_a)
    async with db.sessionmaker() as session:
        rows = repr((await session.execute(text("SELECT * FROM two_factor"))).all())
        rows += repr((await session.execute(text("SELECT * FROM recovery_codes"))).all())
    assert two_factor.secret not in rows
    for code in two_factor.recovery_codes:
        assert code not in rows
        assert code.replace("-", "") not in rows
