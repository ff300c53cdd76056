"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a
live `relay serve` (no mail): the guide's "Via the dashboard" flow, members,
datasets, and the operator's password reset link.

Screenshots of each main page go to .artifacts/screenshots/ (printed at the end);
every state captured is checked by axe-core first.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.dashboard.conftest import ConsoleWatch, assert_accessible, new_context
from tests.dashboard.helpers import PASSWORD, new_email
from tests.live_server import RELAY, LiveServer, relay_env

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
KEY = re.compile(r"rl_live_[0-9A-Za-z]{38}")


def save_screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def shot(page: Page, name: str) -> None:
    """axe-core on the page as it is (WCAG 2.2 AA, see conftest.py), then its screenshot:
    a state worth a picture is worth checking."""
    assert_accessible(page, name)
    save_screenshot(page, name)


def sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    shot(page, "01-signup")
    page.get_by_label("Organisation name").fill("Acme Robotics")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/settings/api-keys$"))


def dismiss_uncopied_key(page: Page) -> None:
    """Close the created-key dialog without copying: Done asks once, then closes."""
    dialog = page.get_by_role("dialog", name="API key created")
    dialog.get_by_role("link", name="Done").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "You have not copied this key. It cannot be shown again. Choose Done again to close anyway."
    )
    dialog.get_by_role("link", name="Done").click()
    expect(page.locator("#created-dialog")).to_have_count(0)


def invite(owner: Page, role: str = "Developer") -> tuple[str, str]:
    """On Members, create an invitation link for a new address, for `role`: (email, link)."""
    owner.goto("/settings/members")
    email = new_email()
    owner.get_by_label("Email address").fill(email)
    owner.get_by_label("Role", exact=True).select_option(label=role)
    owner.get_by_role("button", name="Create invitation link").click()
    link = owner.locator("#invite-link").inner_text().strip()
    return email, link


def join(member: Page, email: str, link: str) -> None:
    """Follow an invitation link and join the organisation."""
    member.goto(link)
    expect(member.get_by_text(email)).to_be_visible()
    member.get_by_label("Password").fill(PASSWORD)
    member.get_by_role("button", name="Join").click()
    expect(member).to_have_url(re.compile(r"/settings/api-keys$"))


def api_status(live_server: LiveServer, key: str) -> int:
    return httpx.get(
        f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key}
    ).status_code


def test_key_lifecycle_in_the_browser(
    context: BrowserContext, live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    expect(page.get_by_text("No API keys yet. Create one to call the API:")).to_be_visible()
    shot(page, "02-api-keys-empty")

    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    dialog.get_by_label("Name").fill("Production Server")
    dialog.get_by_label("Expiration").select_option("30")
    shot(page, "03-create-dialog")
    dialog.get_by_role("button", name="Create key").click()

    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_be_visible()
    full_key = created.locator("#new-key-value").inner_text().strip()
    assert KEY.fullmatch(full_key)
    created.get_by_role("button", name="Copy the API key").click()
    expect(created.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == full_key
    expect(created.get_by_text("it will not be shown again")).to_be_visible()
    shot(page, "04-key-created")

    assert api_status(live_server, full_key) == 200

    created.get_by_role("link", name="Done").click()
    # Closed, the dialog takes the key out of the page (on its "close" event, which
    # comes a moment after the click).
    expect(page.locator("#created-dialog")).to_have_count(0)
    assert full_key not in page.content()
    page.reload()
    assert full_key not in page.content()
    row = page.get_by_role("row", name=re.compile("Production Server"))
    expect(row).to_contain_text(full_key[:12] + "…")
    expect(row).to_contain_text("Active")
    expect(row).not_to_contain_text("Never\tNever")
    shot(page, "05-api-keys-list")

    row.get_by_role("button", name=re.compile("Revoke")).click()
    confirm = page.get_by_role("dialog", name="Revoke API key")
    expect(confirm).to_contain_text("Production Server")
    shot(page, "06-revoke-confirm")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_contain_text("API key “Production Server” revoked.")
    expect(page.get_by_role("row", name=re.compile("Production Server"))).to_have_count(0)
    assert api_status(live_server, full_key) == 401

    page.set_viewport_size({"width": 375, "height": 800})
    shot(page, "07-api-keys-375px")
    with capsys.disabled():
        print(f"\nDashboard screenshots: {SCREENSHOTS}")


def test_invited_member_sees_the_same_keys(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    owner = context.new_page()
    sign_up(owner, new_email())
    owner.get_by_role("button", name="Create API Key").click()
    owner.get_by_label("Name").fill("CI/CD Pipeline")
    owner.get_by_role("button", name="Create key").click()
    dismiss_uncopied_key(owner)

    member_email, link = invite(owner)
    shot(owner, "08-members-invited")

    member_context = new_context(browser, live_server, console_errors)
    member = member_context.new_page()
    join(member, member_email, link)
    expect(member.get_by_role("row", name=re.compile("CI.CD Pipeline"))).to_be_visible()

    # The owner removes the member: the dialog names them, and their session ends.
    owner.goto("/settings/members")
    owner.get_by_role("button", name=f"Remove {member_email}").click()
    dialog = owner.get_by_role("dialog", name="Remove member")
    expect(dialog).to_contain_text(member_email)
    shot(owner, "08b-members-remove")
    dialog.get_by_role("button", name="Remove member").click()
    expect(owner.get_by_text(f"{member_email} was removed and signed out.")).to_be_visible()
    member.reload()
    expect(member).to_have_url(re.compile(r"/login"))
    member_context.close()


def test_dataset_pages_in_the_browser(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("link", name="Datasets").click()
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    page.get_by_role("link", name="New dataset").click()
    page.get_by_label("Name", exact=True).fill("Street scenes")
    page.get_by_label("Description (optional)").fill("Dashcam frames")
    page.locator("#artifact-name-0").fill("bounding_box")
    page.locator("#artifact-name-1").fill("mask")
    page.get_by_role("button", name="Add another type").click()
    page.locator("#artifact-name-3").fill("keypoint")
    shot(page, "09-dataset-new")
    page.get_by_role("button", name="Create dataset").click()

    expect(page.get_by_role("heading", name="Street scenes")).to_be_visible()
    expect(page.locator(".chip")).to_have_text(["bounding_box", "mask", "keypoint"])
    shot(page, "10-dataset")

    page.get_by_label("Name", exact=True).fill("Renamed scenes")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Renamed scenes")).to_be_visible()

    page.get_by_role("link", name="Datasets").click()
    expect(page.get_by_role("link", name="Renamed scenes")).to_be_visible()
    shot(page, "11-datasets-list")
    page.get_by_role("link", name="Renamed scenes").click()
    page.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete dataset")
    expect(confirm).to_contain_text("Renamed scenes")
    confirm.get_by_role("button", name="Delete dataset").click()
    expect(page.get_by_role("status")).to_contain_text("Dataset “Renamed scenes” deleted.")
    expect(page.get_by_text("No datasets yet")).to_be_visible()


def test_api_docs_render_offline_under_their_policy(context: BrowserContext) -> None:
    # Every asset is Relay's own and the page's policy allows its one inline script:
    # a blocked asset or script would be a console error, failing the test.
    page = context.new_page()
    page.goto("/docs")
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()
    expect(page.get_by_text("/api/v1/datasets").first).to_be_visible()


def operator_reset_link(live_server: LiveServer, email: str) -> str:
    """What an operator runs for a user on a server that sends no mail: the link is
    the last line it prints."""
    result = subprocess.run(
        [RELAY, "users", "reset-password", "--email", email],
        env=relay_env(live_server.database_url, RELAY_PUBLIC_URL=live_server.base_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_an_operators_reset_link_sets_a_new_password_without_mail(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    email = new_email()
    sign_up(page, email)
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_text("relay users reset-password --email")).to_be_visible()

    link = operator_reset_link(live_server, email)
    assert link.startswith(f"{live_server.base_url}/reset-password/")
    page.goto(link)
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("New password").fill("chosen after a reset")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("status")).to_contain_text("Sign in with the new password")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile("^Error: "))
    page.get_by_label("Password").fill("chosen after a reset")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/settings/api-keys$"))
