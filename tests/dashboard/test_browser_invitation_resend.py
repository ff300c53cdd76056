"""A pending invitation's "New link" in a real browser (no mail): the new link is
announced like a new invitation's (its card takes focus), the page passes axe and
reflows at 320 px, the previous link is refused and the new one lets the member join."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, expect

from tests.dashboard.conftest import ConsoleWatch, new_context
from tests.dashboard.helpers import new_email
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_browser import invite, join, sign_up
from tests.live_server import LiveServer


def test_a_new_link_is_announced_and_replaces_the_previous_one(
    context: BrowserContext,
    browser: Browser,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    email, first = invite(page)
    page.goto("/settings/members")
    check(page, "members with a pending invitation")

    page.get_by_role("button", name=f"New link for {email}").click()

    notice = page.get_by_role("region", name="New invitation link")
    expect(notice).to_be_focused()
    expect(notice).to_contain_text(email)
    expect(notice).to_contain_text("The previous link no longer works.")
    second = page.locator("#invite-link").inner_text().strip()
    assert second != first
    check(page, "a new invitation link")

    invitee = new_context(browser, live_server, console_errors)
    member = invitee.new_page()
    member.goto(first)
    expect(member.get_by_text("invalid, expired or already used")).to_be_visible()
    join(member, email, second)
    invitee.close()
