"""A key's own page in a real browser: rename, Roll and Revoke there, the links between a
rolled key and its successor, revoked keys under All, and the new key's usage lines;
axe (and the 320 px reflow check) on each state."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.dashboard.helpers import new_email
from tests.dashboard.test_accessibility import check, create_key
from tests.dashboard.test_browser import dismiss_uncopied_key, sign_up
from tests.live_server import LiveServer


def test_a_keys_page_renames_rolls_and_revokes_and_keeps_its_history(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    email = new_email()
    sign_up(page, email)
    first_key = create_key(page, "Deploy")
    created = page.get_by_role("dialog", name="API key created")
    usage = created.locator("#new-key-usage")
    expect(usage).to_have_text(
        f"export RELAY_API_KEY={first_key}\n"
        f'curl {live_server.base_url}/api/v1/datasets -H "X-API-Key: $RELAY_API_KEY"'
    )
    created.get_by_role("button", name="Copy the commands that use the key").click()
    expect(created.get_by_role("status")).to_have_text("Copied")
    check(page, "new key with its usage lines")
    # The lines hold the key: copying them is copying the key, so Done closes at once.
    created.get_by_role("link", name="Done").click()
    expect(created).to_have_count(0)

    page.get_by_role("link", name="Deploy", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deploy")
    page.get_by_role("textbox", name="Name").fill("Deploy (EU)")
    page.get_by_role("button", name="Save name").click()
    flash = page.get_by_text("Name of API key “Deploy (EU)” saved.")
    expect(flash).to_be_focused()
    check(page, "a key's page after a rename")

    page.get_by_role("button", name="Roll Deploy (EU)").press("Space")
    roll = page.get_by_role("dialog", name="Roll API key")
    expect(roll).to_contain_text("Deploy (EU)")
    check(page, "roll dialog on a key's page")
    roll.get_by_role("button", name="Roll key").click()
    second_key = page.locator("#new-key-value").inner_text().strip()
    assert second_key != first_key
    dismiss_uncopied_key(page)

    page.get_by_role("link", name="Deploy (EU)").first.click()  # the successor, newest
    expect(page.get_by_text("Rolled from", exact=True)).to_be_visible()
    page.get_by_role("link", name=f"{first_key[:12]}…").click()
    expect(page.get_by_text("Rolled into", exact=True)).to_be_visible()
    check(page, "a rolled key's page")
    expect(page.get_by_text("No request since it was rolled")).to_be_visible()
    page.get_by_role("button", name="End grace now").press("Space")
    ending = page.get_by_role("dialog", name="End the grace")
    expect(ending).to_have_accessible_description(re.compile("its successor works on"))
    check(page, "end the grace dialog")
    ending.get_by_role("button", name="Cancel").click()
    expect(ending).to_be_hidden()
    page.get_by_role("link", name=f"{second_key[:12]}…").click()

    page.get_by_role("button", name="Revoke Deploy (EU)").click()
    revoke = page.get_by_role("dialog", name="Revoke API key")
    expect(revoke).to_have_accessible_description(re.compile("Revoke “Deploy \\(EU\\)”\\?"))
    revoke.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("API key “Deploy (EU)” revoked.")).to_be_focused()
    gone = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": second_key})
    assert gone.status_code == 401

    page.get_by_role("link", name=re.compile("^All")).click()
    expect(page.get_by_role("link", name=re.compile("^All"))).to_have_attribute(
        "aria-current", "page"
    )
    revoked = page.get_by_role("row", name=re.compile("Rolled from"))  # the successor
    expect(revoked).to_contain_text("Revoked")
    expect(revoked).to_contain_text(f"by {email}")
    check(page, "all keys, a revoked one among them")
    revoked.get_by_role("link", name="Deploy (EU)").click()
    expect(page.get_by_text(f"by {email}: refused for good")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Roll|Revoke|Suspend)"))).to_have_count(0)
    check(page, "a revoked key's page")
