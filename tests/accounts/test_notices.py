"""A user hears by mail of every change to their account's security: password changed
or reset, two-factor sign-in on or off, a recovery code used, new recovery codes
(ASVS 2.2.3)."""

from __future__ import annotations

import httpx

from relay.db import Database
from tests.accounts.helpers import (
    ACCOUNT,
    SETUP,
    code_step,
    make_owner,
    owner_with_two_factor,
    password_step,
    path_of,
    shown_recovery_codes,
    signed_in,
)
from tests.dashboard.helpers import PASSWORD, post_form
from tests.mail_server import MailServer, body_of, link_in

NEW_PASSWORD = "a brand new passphrase"


def subjects(mail_server: MailServer, email: str, count: int) -> list[str]:
    mail_server.inbox.wait_for(email, count)
    return [str(message["Subject"]) for message in mail_server.inbox.to(email)]


async def test_each_security_change_is_mailed_to_the_user(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    made = await post_form(
        browser_a, ACCOUNT, f"{SETUP}/recovery-codes",
        {"password": PASSWORD, "code": two_factor.next_code()},
    )  # fmt: skip
    off = await post_form(
        browser_a, ACCOUNT, f"{SETUP}/disable",
        {"password": PASSWORD, "code": shown_recovery_codes(made.text)[0]},
    )  # fmt: skip
    assert off.status_code == 303
    changed = await post_form(
        browser_a, ACCOUNT, f"{ACCOUNT}/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )  # fmt: skip
    assert changed.status_code == 303

    assert subjects(mail_server, owner.email, 4) == [
        "Two-factor sign-in is on",
        "New Relay recovery codes",
        "Two-factor sign-in is off",
        "Your Relay password was changed",
    ]
    notice = body_of(mail_server.inbox.to(owner.email)[-1])
    assert "from the address 198.51.100.10" in notice
    assert "http://127.0.0.1:8000/forgot-password" in notice
    assert NEW_PASSWORD not in notice


async def test_signing_in_with_a_recovery_code_is_mailed_and_with_the_app_is_not(
    browser_a: httpx.AsyncClient,
    browser_b: httpx.AsyncClient,
    db: Database,
    mail_server: MailServer,
) -> None:
    owner, two_factor = await owner_with_two_factor(db, browser_a)
    await password_step(browser_b, owner.email)
    assert (await code_step(browser_b, two_factor.next_code())).status_code == 303
    browser_b.cookies.clear()
    await password_step(browser_b, owner.email)
    assert (await code_step(browser_b, two_factor.recovery_codes[0])).status_code == 303
    # A change mailed last: had the sign-in with the app sent anything, it shows before.
    await post_form(
        browser_b, ACCOUNT, f"{SETUP}/recovery-codes",
        {"password": PASSWORD, "code": two_factor.recovery_codes[1]},
    )  # fmt: skip

    assert subjects(mail_server, owner.email, 3) == [
        "Two-factor sign-in is on",
        "A Relay recovery code was used",
        "New Relay recovery codes",
    ]
    assert two_factor.recovery_codes[0] not in body_of(mail_server.inbox.to(owner.email)[1])


async def test_a_reset_is_mailed_after_the_link(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await post_form(browser_a, "/forgot-password", "/forgot-password", {"email": owner.email})
    link = path_of(link_in(mail_server.inbox.wait_for(owner.email), "/reset-password/"))
    done = await post_form(browser_a, link, link, {"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert subjects(mail_server, owner.email, 2)[1] == "Your Relay password was reset"


async def test_without_mail_the_changes_work_and_nothing_is_sent(
    client: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await signed_in(client, owner.email)
    changed = await post_form(
        client, ACCOUNT, f"{ACCOUNT}/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )  # fmt: skip
    assert changed.status_code == 303
    assert mail_server.inbox.to(owner.email) == []
