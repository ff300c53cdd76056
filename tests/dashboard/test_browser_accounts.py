"""Account security in a real browser (Chromium through Playwright) against a live
`relay serve` that sends mail to a real SMTP server and has RELAY_SECRET_KEY set:
sign-up confirmed by mail, changing and resetting the password, two-factor sign-in
with codes computed from the secret the page shows, recovery codes (new ones, and
turning it off, take a code again), sessions ended from another browser, and a
tenant that requires two-factor of every member; and axe-core on every one of these
pages, refused forms included. (Every refusal's rules are tested over HTTP, in
tests/accounts/.)"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from relay.config import Settings
from tests.dashboard.conftest import ConsoleWatch, new_context
from tests.dashboard.helpers import PASSWORD, new_email
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_browser import shot
from tests.live_server import LiveServer, run_server
from tests.mail_server import RESET_SUBJECT, SENDER, MailServer, link_in

NEW_PASSWORD = "a passphrase of my own"
KEYS = re.compile(r"/settings/api-keys$")


@pytest.fixture(scope="module")
def live_server(
    settings: Settings, mail_server: MailServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's server: with mail and a secret key, as account security needs."""
    log_path = tmp_path_factory.mktemp("accounts-live") / "relay-serve.log"
    # Every page here signs up and in from 127.0.0.1: the per-address shares (tested
    # on their own) are lifted.
    env = {"RELAY_SECRET_KEY": "k" * 43, "RELAY_SMTP_URL": mail_server.url,
           "RELAY_SMTP_FROM": SENDER, "RELAY_SIGNUP_LIMIT": "100000",
           "RELAY_SIGNIN_ATTEMPT_LIMIT": "100000"}  # fmt: skip
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server


def sign_up_by_mail(page: Page, mail_server: MailServer) -> str:
    email = new_email()
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_role("status")).to_be_focused()  # read out at once
    page.goto(link_in(mail_server.inbox.wait_for(email), "/signup/confirm/"))
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("Organisation name").fill("Acme Robotics")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(KEYS)
    return email


def open_account(page: Page) -> None:
    page.goto("/settings/api-keys")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def turn_on_two_factor(page: Page) -> tuple[str, list[str]]:
    """From the account page: scan (read) the secret, type the app's code; returns the
    secret and the recovery codes shown once."""
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    shot(page, "21-two-factor-setup")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    return secret, codes


def test_sign_up_by_mail_then_change_and_reset_the_password(
    context: BrowserContext, mail_server: MailServer
) -> None:
    page = context.new_page()
    email = sign_up_by_mail(page, mail_server)
    open_account(page)
    shot(page, "20-account")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed.")
    sign_out(page)

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to choose a new password")
    page.goto(link_in(mail_server.inbox.wait_for_subject(email, RESET_SUBJECT), "/reset-password/"))
    page.get_by_label("New password").fill("reset in the browser")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("status")).to_contain_text("Sign in with the new password")
    sign_in(page, email, "reset in the browser")
    expect(page).to_have_url(KEYS)


def test_two_factor_sign_in_recovery_codes_and_sessions(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
    mail_server: MailServer,
) -> None:
    page = context.new_page()
    email = sign_up_by_mail(page, mail_server)
    open_account(page)
    secret, codes = turn_on_two_factor(page)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").split() == codes
    shot(page, "22-recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_text("Recovery codes left: 10 of 10.")).to_be_visible()
    sign_out(page)

    # The password alone: the code page, and no page beyond it.
    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    shot(page, "23-two-factor-code")
    page.goto("/settings/api-keys")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/login/two-factor")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(int(time.time()) + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(KEYS)

    # Another browser signs in with a recovery code; this one ends that session.
    other_context = new_context(browser, live_server, console_errors)
    other = other_context.new_page()
    sign_in(other, email, PASSWORD)
    other.get_by_label("Authentication code").fill(codes[0])
    other.get_by_role("button", name="Verify").click()
    expect(other).to_have_url(KEYS)
    open_account(page)
    sessions = page.get_by_role("row").filter(has=page.get_by_role("button", name="Sign out"))
    expect(sessions).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="This session")).to_have_count(1)
    expect(page.get_by_text("Recovery codes left: 9 of 10.")).to_be_visible()
    shot(page, "24-account-sessions")
    sessions.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("That session was signed out.")
    other.reload()
    expect(other).to_have_url(re.compile(r"/login$"))
    other_context.close()

    # New codes, and turning it off: the password and the second factor again.
    page.locator("#codes-password").fill(PASSWORD)
    page.locator("#codes-code").fill(codes[1])
    page.get_by_role("button", name="Generate new recovery codes").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    new_codes = page.locator("#recovery-codes").inner_text().split()
    assert not set(new_codes) & set(codes)
    page.get_by_role("link", name="I have saved them").click()
    page.locator("#disable-password").fill(PASSWORD)
    page.locator("#disable-code").fill(new_codes[0])
    page.get_by_role("button", name="Turn off two-factor sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor sign-in is off.")
    sign_out(page)
    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(KEYS)


def test_signing_out_all_other_sessions_sends_the_other_browser_to_sign_in(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
    mail_server: MailServer,
) -> None:
    page = context.new_page()
    email = sign_up_by_mail(page, mail_server)
    other_context = new_context(browser, live_server, console_errors)
    other = other_context.new_page()
    sign_in(other, email, PASSWORD)
    expect(other).to_have_url(KEYS)
    open_account(page)
    page.get_by_role("button", name="Sign out all other sessions").click()
    expect(page.get_by_role("status")).to_contain_text("1 other session signed out.")
    expect(page.get_by_role("row").filter(has_text="This session")).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out all other sessions")).to_have_count(0)
    other.reload()
    expect(other).to_have_url(re.compile(r"/login$"))
    page.reload()  # this one stays signed in
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    other_context.close()


def test_a_required_second_factor_is_set_up_before_anything_else(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
    mail_server: MailServer,
) -> None:
    owner = context.new_page()
    sign_up_by_mail(owner, mail_server)
    open_account(owner)
    turn_on_two_factor(owner)
    owner.get_by_role("link", name="I have saved them").click()
    owner.get_by_role("link", name="Members").click()
    owner.get_by_label("Require two-factor sign-in for every member").check()
    owner.locator("#require-two-factor-password").fill(PASSWORD)
    owner.get_by_role("button", name="Save").click()
    expect(owner.get_by_role("status")).to_contain_text("Every member now signs in")
    invitee = new_email()
    owner.get_by_label("Email address").fill(invitee)
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.get_by_role("heading", name="Invitation sent")).to_be_visible()
    link = link_in(mail_server.inbox.wait_for(invitee), "/invitations/")
    shot(owner, "25-members-two-factor")

    member_context = new_context(browser, live_server, console_errors)
    member = member_context.new_page()
    member.goto(link)
    member.get_by_label("Password").fill(PASSWORD)
    member.get_by_role("button", name="Join").click()
    expect(member).to_have_url(re.compile(r"/settings/account/two-factor$"))
    expect(member.get_by_text("Your organisation requires two-factor sign-in")).to_be_visible()
    check(member, "required two-factor set-up")
    member.goto("/datasets")
    expect(member).to_have_url(re.compile(r"/settings/account/two-factor$"))
    secret = member.locator("#totp-secret").inner_text().replace(" ", "")
    member.get_by_label("Password", exact=True).fill(PASSWORD)
    member.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    member.get_by_role("button", name="Turn on two-factor sign-in").click()
    member.get_by_role("link", name="I have saved them").click()
    member.get_by_role("link", name="Datasets").click()
    expect(member.get_by_text("No datasets yet")).to_be_visible()
    member_context.close()


def test_every_account_page_and_error_state_is_accessible(
    context: BrowserContext, mail_server: MailServer
) -> None:
    """axe at a desktop and a phone size (see test_accessibility.py) on each page of
    account security, as it first shows and as it comes back with an error."""
    page = context.new_page()
    email = new_email()
    page.goto("/signup")
    check(page, "sign-up by mail")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page).to_have_title(re.compile("^Check your email"))
    check(page, "sign-up: check your email")
    page.goto(link_in(mail_server.inbox.wait_for(email), "/signup/confirm/"))
    check(page, "sign-up: confirm")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "sign-up: confirm with errors")
    page.get_by_label("Organisation name").fill("Acme Robotics")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    open_account(page)
    check(page, "account")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "change password with errors")

    page.goto("/settings/account")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page).to_have_title(re.compile("^Set up two-factor sign-in"))
    check(page, "two-factor set-up")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Enter the 6-digit code the app shows").fill("12345")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "two-factor set-up with an error")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page).to_have_title(re.compile("^Recovery codes"))
    check(page, "recovery codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page).to_have_title(re.compile("^Account"))
    check(page, "account, two-factor on")
    page.locator("#codes-password").fill(PASSWORD)
    page.locator("#codes-code").fill("000000")
    page.get_by_role("button", name="Generate new recovery codes").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("#codes-code")).to_have_attribute("aria-invalid", "true")
    check(page, "new recovery codes, the code refused")
    page.goto("/settings/members")
    check(page, "members, with the two-factor requirement")

    sign_out(page)
    sign_in(page, email, PASSWORD)
    expect(page).to_have_title(re.compile("^Two-factor sign-in"))
    check(page, "two-factor code")
    # Ten minutes ahead: outside the accepted steps.
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(time.time() + 600))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "two-factor code refused")
    # The next step's code: the one set-up took cannot be used again.
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(KEYS)
    sign_out(page)

    page.goto("/forgot-password")
    check(page, "forgotten password")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Send reset link").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "forgotten password with an error")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to choose a new password")
    check(page, "reset link sent")
    page.goto(link_in(mail_server.inbox.wait_for_subject(email, RESET_SUBJECT), "/reset-password/"))
    check(page, "choose a new password")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set new password").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "choose a new password with an error")
    page.goto("/reset-password/not-a-real-token")
    check(page, "an unusable reset link")
