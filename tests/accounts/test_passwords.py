"""Changing a password from Settings > Account: the current one required, at least 10
characters, every other session ended, an audit event."""

from __future__ import annotations

import httpx

from relay.db import Database
from tests.accounts.helpers import ACCOUNT, actions_of, make_owner, signed_in
from tests.dashboard.helpers import PASSWORD, post_form, sign_in

NEW_PASSWORD = "a brand new passphrase"
ACTION = f"{ACCOUNT}/password"


async def test_changing_the_password_ends_every_other_session(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    await signed_in(browser_b, owner.email)
    changed = await post_form(
        browser_a, ACCOUNT, ACTION, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 303
    page = (await browser_a.get(ACCOUNT)).text
    assert "Your password was changed. 1 other session signed out." in page
    assert (await browser_b.get(ACCOUNT)).headers["location"] == "/login"

    browser_b.cookies.clear()
    assert (await sign_in(browser_b, owner.email, PASSWORD)).status_code == 401
    assert (await sign_in(browser_b, owner.email, NEW_PASSWORD)).status_code == 303
    assert "user.password_changed" in await actions_of(db, owner)


async def test_the_current_password_is_required_and_the_new_one_checked(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    cases = [
        ({"current_password": "", "new_password": NEW_PASSWORD}, "current-password",
         "Enter your current password"),
        ({"current_password": "a wrong guess", "new_password": NEW_PASSWORD}, "current-password",
         "That is not your current password"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new-password",
         "Password must be at least 10 characters"),
    ]  # fmt: skip
    for form, field_id, message in cases:
        refused = await post_form(browser_a, ACCOUNT, ACTION, form)
        assert refused.status_code == 400
        assert refused.text.startswith("<!doctype html>")
        assert "<title>Error: Account" in refused.text
        assert f'<p class="field-error" id="{field_id}-error">' in refused.text
        assert message in refused.text
        assert f'href="#{field_id}"' in refused.text  # the error summary links to it
        # Passwords are never sent back in the page.
        assert (
            form["current_password"] not in refused.text.replace('value=""', "")
            or not form["current_password"]
        )
    browser_a.cookies.clear()
    assert (await sign_in(browser_a, owner.email, PASSWORD)).status_code == 303


async def test_wrong_current_passwords_are_failed_sign_ins_with_their_limits(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    """An outside review: a stolen session could guess the password on the settings
    forms without limit or trace."""
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    wrong = {"current_password": "a wrong guess", "new_password": NEW_PASSWORD}
    for _ in range(5):
        assert (await post_form(browser_a, ACCOUNT, ACTION, wrong)).status_code == 400
    assert (await actions_of(db, owner)).count("user.sign_in_failed") == 5
    # The account is in back-off now, from this form as from the sign-in page.
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    slowed = await post_form(browser_a, ACCOUNT, ACTION, right)
    assert slowed.status_code == 429
    assert "Too many failed sign-in attempts for this account" in slowed.text
    assert 'id="current-password-error"' in slowed.text
