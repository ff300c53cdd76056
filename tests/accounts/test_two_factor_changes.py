"""Changing one's own two-factor sign-in over HTTP (an outside review, issue 20): new
recovery codes and turning it off need the password and the second factor again (a
current code, accepted once, or an unused recovery code, used up), and turning it on
ends the user's other sessions."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from relay.accounts.models import LoginFailure
from relay.audit.models import AuditEvent
from relay.db import Database, utcnow
from relay.tenants.models import Tenant, User
from tests.accounts.helpers import (
    ACCOUNT,
    SETUP,
    code_step,
    make_owner,
    owner_with_two_factor,
    password_step,
    sealed_setup,
    shown_recovery_codes,
    shown_secret,
    signed_in,
)
from tests.dashboard.helpers import PASSWORD, post_form

NEW_CODES = f"{SETUP}/recovery-codes"
TURN_OFF = f"{SETUP}/disable"
# Each change to the second factor: its form's action, and the prefix of its fields' ids.
EACH_CHANGE = pytest.mark.parametrize(
    ("action", "form"),
    [(NEW_CODES, "codes"), (TURN_OFF, "disable")],
    ids=["new recovery codes", "turning it off"],
)
CHANGE_EVENT = {NEW_CODES: "user.recovery_codes_replaced", TURN_OFF: "user.two_factor_disabled"}


async def events_of(db: Database, user: User) -> list[tuple[str, dict[str, object]]]:
    """The audit events about `user`'s tenant, oldest first: (action, details)."""
    async with db.sessionmaker() as session:
        query = (
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.tenant_id == user.tenant_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return [(action, details) for action, details in (await session.execute(query)).all()]


async def assert_made(
    action: str,
    made: httpx.Response,
    browser: httpx.AsyncClient,
    other: httpx.AsyncClient,
    owner: User,
    old_codes: list[str],
) -> None:
    """The change `made` in `browser` took effect, seen from `other` signing in."""
    if action == NEW_CODES:
        assert made.status_code == 201, made.text
        new = shown_recovery_codes(made.text)
        assert len(new) == 10
        assert not set(new) & set(old_codes)
        await password_step(other, owner.email)
        assert (await code_step(other, old_codes[-1])).status_code == 401
        assert (await code_step(other, new[0])).status_code == 303
    else:
        assert made.status_code == 303, made.text
        assert "Two-factor sign-in is off." in (await browser.get(ACCOUNT)).text
        await signed_in(other, owner.email)  # the password alone again


async def assert_spent(browser: httpx.AsyncClient, action: str, form: str, code: str) -> None:
    """`code`, given again with the password, changes nothing."""
    again = await post_form(browser, ACCOUNT, action, {"password": PASSWORD, "code": code})
    assert again.status_code == 400
    assert f'id="{form}-code-error"' in again.text
    assert 'id="recovery-codes"' not in again.text


@EACH_CHANGE
async def test_a_change_is_refused_without_a_fresh_second_factor(
    action: str, form: str, browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    """A stolen session and the password are not enough: nothing changes, and the
    recovery codes all still work."""
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    used = two_factor.next_code()
    await password_step(browser_b, owner.email)
    assert (await code_step(browser_b, used)).status_code == 303  # accepted once, here
    unused = two_factor.recovery_codes[0]

    for fields, refused_at in (
        ({"password": PASSWORD}, "code"),
        ({"password": PASSWORD, "code": "000000"}, "code"),
        ({"password": PASSWORD, "code": used}, "code"),  # replayed
        # A good recovery code with a wrong password: refused, and not spent.
        ({"password": "not my password", "code": unused}, "password"),
    ):
        refused = await post_form(browser_a, ACCOUNT, action, fields)
        assert refused.status_code == 400, fields
        assert f'id="{form}-{refused_at}-error"' in refused.text, fields
        assert 'aria-invalid="true"' in refused.text
        assert 'id="recovery-codes"' not in refused.text

    account = (await browser_a.get(ACCOUNT)).text
    assert "Recovery codes left: <strong>10</strong>" in account  # still on, none spent
    events = await events_of(db, owner)
    actions = [action for action, _ in events]
    for change in CHANGE_EVENT.values():
        assert change not in actions
    # Each wrong code is a failed sign-in, as the wrong password asked again is.
    failed = [details["factor"] for action, details in events if action == "user.sign_in_failed"]
    assert failed == ["two-factor code, asked again"] * 2 + ["password, asked again"]
    browser_b.cookies.clear()
    await password_step(browser_b, owner.email)
    assert (await code_step(browser_b, unused)).status_code == 303


@EACH_CHANGE
async def test_a_change_is_made_with_the_password_and_a_current_code(
    action: str, form: str, browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    code = two_factor.next_code()
    made = await post_form(browser_a, ACCOUNT, action, {"password": PASSWORD, "code": code})
    await assert_made(action, made, browser_a, browser_b, owner, two_factor.recovery_codes)
    change = CHANGE_EVENT[action]
    assert (change, {"second_factor": "authenticator"}) in await events_of(db, owner)
    if action == NEW_CODES:  # still on: the code, given again, is refused
        await assert_spent(browser_a, action, form, code)


@EACH_CHANGE
async def test_a_change_is_made_with_the_password_and_a_recovery_code_used_up(
    action: str, form: str, browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    given = two_factor.recovery_codes[3]
    made = await post_form(browser_a, ACCOUNT, action, {"password": PASSWORD, "code": given})
    await assert_made(action, made, browser_a, browser_b, owner, two_factor.recovery_codes)
    events = await events_of(db, owner)
    change = CHANGE_EVENT[action]
    used_up = events.index(("user.recovery_code_used", {"codes_left": 9}))
    assert events[used_up + 1] == (change, {"second_factor": "recovery code"})
    if action == NEW_CODES:
        await assert_spent(browser_a, action, form, given)


async def test_a_change_needs_a_code_of_its_own_user(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    _alice, alices = await owner_with_two_factor(db, browser_a)
    _mallory, _ = await owner_with_two_factor(db, browser_b)
    for code in (alices.next_code(), alices.recovery_codes[0]):
        refused = await post_form(
            browser_b, ACCOUNT, NEW_CODES, {"password": PASSWORD, "code": code}
        )
        assert refused.status_code == 400
        assert 'id="codes-code-error"' in refused.text
    assert "Recovery codes left: <strong>10</strong>" in (await browser_a.get(ACCOUNT)).text


async def turn_on(browser: httpx.AsyncClient) -> httpx.Response:
    page = (await browser.get(SETUP)).text
    code = pyotp.TOTP(shown_secret(page)).now()
    fields = {"password": PASSWORD, "setup": sealed_setup(page), "code": code}
    return await post_form(browser, SETUP, SETUP, fields)


async def test_turning_it_on_ends_the_users_other_sessions(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    """As a new password does: a session signed in with the password alone (perhaps
    someone else's) must not outlive the second factor."""
    owner = await make_owner(db)
    await signed_in(browser_b, owner.email)
    await signed_in(browser_a, owner.email)
    assert "Turning it on signs out your other sessions." in (await browser_a.get(SETUP)).text
    on = await turn_on(browser_a)
    assert on.status_code == 201
    assert '<p class="flash" role="status" data-announce>1 other session signed out.</p>' in on.text

    assert (await browser_b.get(ACCOUNT)).headers["location"] == "/login"
    assert (await browser_a.get(ACCOUNT)).status_code == 200  # this one stays
    enabled = [details for action, details in await events_of(db, owner)
               if action == "user.two_factor_enabled"]  # fmt: skip
    assert enabled == [{"other_sessions_ended": 1}]


async def test_turning_it_on_in_the_only_session_says_none_ended(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    on = await turn_on(browser_a)
    assert on.status_code == 201
    assert 'class="flash"' not in on.text


async def test_wrong_codes_given_again_count_toward_the_back_off(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    """A stolen session and password cannot guess codes any faster than the sign-in
    page allows: a wrong one is a failure of the account, as a wrong password."""
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    # The session cookie stolen, not the browser: no device cookie of the account
    # (a known browser's failures are counted apart, tests/accounts/test_known_devices.py).
    browser_a.cookies.delete("relay_device")
    # Eight failures a minute ago: their back-off (8 s) is over.
    async with db.sessionmaker.begin() as session:
        for number in range(8):
            at = utcnow() - timedelta(minutes=1)
            session.add(LoginFailure(email=owner.email, address=f"192.0.2.{number}", at=at))
    guessed = await post_form(
        browser_a, ACCOUNT, NEW_CODES, {"password": PASSWORD, "code": "000000"}
    )
    assert guessed.status_code == 400
    # The ninth failure, just now: 16 s before the next attempt, even the right code.
    given = two_factor.recovery_codes[0]
    stopped = await post_form(browser_a, ACCOUNT, NEW_CODES, {"password": PASSWORD, "code": given})
    assert stopped.status_code == 429
    assert int(stopped.headers["Retry-After"]) > 0
    assert 'id="recovery-codes"' not in stopped.text
    assert "Recovery codes left: <strong>10</strong>" in (await browser_a.get(ACCOUNT)).text


async def test_a_recovery_code_is_not_spent_on_a_change_the_tenant_forbids(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == owner.tenant_id).values(require_two_factor=True)
        )
    given = two_factor.recovery_codes[0]
    refused = await post_form(browser_a, ACCOUNT, TURN_OFF, {"password": PASSWORD, "code": given})
    assert refused.status_code == 409
    assert "requires two-factor sign-in" in refused.text
    assert "Recovery codes left: <strong>10</strong>" in (await browser_a.get(ACCOUNT)).text
