"""WCAG 2.2 AA in every dashboard state, checked by axe-core in Chromium at a desktop
and a phone size, and the keyboard rules of the review: destructive dialogs open on
Cancel, focus returns where it belongs, a one-time key is not thrown away unseen,
every copy is announced, every field refused is marked invalid, every group named.
"""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from relay.auth.cache import KeyCache
from relay.config import Settings
from relay.db import open_database
from relay.key_policy.unused_keys import expire_unused_keys
from tests.dashboard.conftest import DESKTOP, PHONE, ConsoleWatch, assert_accessible, new_context
from tests.dashboard.helpers import PASSWORD, new_email, run_beside_playwright
from tests.dashboard.test_browser import (
    KEY,
    dismiss_uncopied_key,
    invite,
    join,
    save_screenshot,
    shot,
    sign_up,
)
from tests.key_policy.test_key_policy import make_stale
from tests.live_server import LiveServer

NARROWEST = {"width": 320, "height": 640}
# The one-word headers and statuses that take more than one line ("PERMISSI ONS").
BROKEN_WORDS = """(elements) => elements.flatMap((element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const broken = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text || /\\s/.test(text) || node.parentElement.closest(".visually-hidden")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top)));
    if (lines.size > 1) broken.push(text);
  }
  return broken;
})"""
# Status messages (WCAG 4.1.3): news in the page as it loads is read out only when it
# takes focus (data-announce, app.js); a live region (aria-live) announces its own
# changes, a dialog and the error summary take focus themselves.
UNANNOUNCED = """() => Array.from(document.querySelectorAll(
  "main [role=status]:not([aria-live]), main [role=alert]:not([aria-live])"))
  .filter((news) => news.textContent.trim() && news.checkVisibility()
    && !news.closest("[data-announce], [data-error-summary], dialog"))
  .map((news) => news.textContent.trim())"""
# Every dialog says what it does, to what (its accessible description), and an open one
# names its target.
UNDESCRIBED = """() => Array.from(document.querySelectorAll("dialog")).filter((dialog) => {
  const ids = (dialog.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
  const text = ids.map((id) => (document.getElementById(id)?.textContent || "").trim()).join("");
  const unnamed = dialog.open && Array.from(dialog.querySelectorAll("[data-confirm-name]"))
    .some((name) => !name.textContent.trim());
  return !text || unnamed;
}).map((dialog) => dialog.id || dialog.outerHTML.slice(0, 80))"""


def check(page: Page, state: str, screenshot: str | None = None) -> None:
    """axe at both sizes (the page as it is, dialogs included), no header or status
    broken inside a word at 1280 px, every status message of the page read out, every
    dialog described, no sideways scrolling at 320 px, back to desktop.
    After a click, the caller first waits (an `expect`) for the state to show: a
    navigation may not have begun when the click returns, and axe run mid-navigation
    finds no document."""
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        assert_accessible(page, state)
    broken = page.eval_on_selector_all("th, .status", BROKEN_WORDS)
    assert broken == [], f"{state}: broken inside a word at 1280 px: {broken}"
    assert page.evaluate(UNANNOUNCED) == [], f"{state}: news in the page not read out"
    assert page.evaluate(UNDESCRIBED) == [], f"{state}: a dialog without a description"
    # Reflow (WCAG 1.4.10): nothing scrolls sideways at 320 px (a wide table scrolls in
    # its own box, as the criterion allows data tables to).
    page.set_viewport_size(NARROWEST)
    wider = page.evaluate("document.documentElement.scrollWidth")
    assert wider <= NARROWEST["width"], f"{state}: {wider} px wide at 320 px"
    page.set_viewport_size(DESKTOP)
    if screenshot:
        save_screenshot(page, screenshot)


def create_key(page: Page, name: str) -> str:
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key-value").inner_text().strip()
    assert KEY.fullmatch(key)
    return key


def test_every_signed_out_page_and_error_state(context: BrowserContext) -> None:
    page = context.new_page()
    for path, fill, button, invalid in (
        ("/login", lambda: (page.get_by_label("Email").fill("nobody@example.com"),
                            page.get_by_label("Password").fill("wrong password")), "Sign in",
         ("Email", "Password")),
        ("/signup", lambda: (page.get_by_label("Organisation name").fill("Acme"),
                             page.get_by_label("Email").fill("not an email"),
                             page.get_by_label("Password").fill(PASSWORD)), "Create account",
         ("Email",)),
    ):  # fmt: skip
        page.goto(path)
        check(page, path)
        fill()
        page.get_by_role("button", name=button).click()
        expect(page).to_have_title(re.compile("^Error: "))
        # The summary takes focus and links to the field, which is marked invalid.
        expect(page.locator("[data-error-summary]")).to_be_focused()
        for label in invalid:
            expect(page.get_by_label(label, exact=True)).to_have_attribute("aria-invalid", "true")
        check(page, f"{path} with errors")
    page.goto("/invitations/not-a-real-token")
    check(page, "an unusable invitation")
    missing = page.goto("/no-such-page")
    assert missing is not None
    assert missing.status == 404
    expect(page).to_have_title(re.compile("^Page not found"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    check(page, "the 404 page")


def test_every_signed_in_page_and_dialog_state(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    page = context.new_page()
    owner_email = new_email()
    sign_up(page, owner_email)
    check(page, "API keys, none yet")
    page.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_role("dialog", name="Create API Key")).to_be_visible()
    check(page, "create dialog")
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill("Contractor")
    dialog.get_by_label("Restricted").check()
    dialog.get_by_label("Expiration").select_option("custom")
    dialog.get_by_label(re.compile("Custom date")).fill("2020-01-01")
    dialog.get_by_role("button", name="Create key").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "create dialog with errors", "16-create-errors")
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Datasets", exact=True).select_option("write")
    dialog.get_by_label("Expiration").select_option("30")
    dialog.get_by_role("button", name="Create key").click()
    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_be_visible()
    check(page, "key created")
    page.get_by_role("link", name="Done").click()
    expect(created.get_by_role("alert")).to_contain_text("You have not copied this key")
    check(page, "unsaved key warning")
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#created-dialog")).to_have_count(0)
    check(page, "API keys, one key")
    page.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("dialog", name="Revoke API key")).to_be_visible()
    check(page, "revoke dialog")
    page.keyboard.press("Escape")
    page.get_by_role("button", name=re.compile("^Roll")).click()
    expect(page.get_by_role("dialog", name="Roll API key")).to_be_visible()
    check(page, "roll dialog")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Suspend Contractor").click()
    expect(page.get_by_text("Suspended", exact=True)).to_be_visible()
    check(page, "API keys, a suspended key")
    page.get_by_role("link", name="Contractor", exact=True).click()
    expect(page).to_have_title(re.compile("^Contractor · API Keys"))
    check(page, "a suspended key's page")
    page.get_by_role("button", name="Resume Contractor").click()
    expect(page.get_by_role("status")).to_contain_text("resumed")
    check(page, "a key's page with its chart")

    page.goto("/settings/members")
    check(page, "members")
    page.get_by_label("Email address").fill("not an email")
    page.get_by_role("button", name="Create invitation link").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "members with an error")
    page.get_by_label("Email address").fill(owner_email)
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.locator("#invite-email-error")).to_contain_text("already a member")
    check(page, "members, inviting someone already a member")
    member_email, link = invite(page)
    expect(page.get_by_role("heading", name="Invitation created")).to_be_visible()
    check(page, "an invitation link")
    member_context = new_context(browser, live_server, console_errors)
    join(member_context.new_page(), member_email, link)
    member_context.close()
    page.goto("/settings/members")
    page.get_by_role("button", name=f"Remove {member_email}").click()
    expect(page.get_by_role("dialog", name="Remove member")).to_be_visible()
    check(page, "remove dialog")
    page.keyboard.press("Escape")
    page.goto("/settings/audit-log")
    check(page, "audit log")

    page.goto("/datasets")
    check(page, "datasets, none yet")
    page.get_by_role("link", name="New dataset").click()
    expect(page).to_have_title(re.compile("^New dataset"))
    check(page, "new dataset")
    page.locator("#artifact-name-0").fill("Bad Name")
    page.get_by_role("button", name="Create dataset").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "new dataset with errors", "17-dataset-errors")
    page.get_by_label("Name", exact=True).fill("Street scenes")
    page.locator("#artifact-name-0").fill("box")
    page.get_by_role("button", name="Create dataset").click()
    expect(page).to_have_title(re.compile("^Street scenes"))
    check(page, "a dataset")
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "a dataset with a rename error")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("dialog", name=re.compile("^Delete"))).to_be_visible()
    check(page, "delete dialog")
    page.keyboard.press("Escape")
    page.goto("/datasets")
    check(page, "datasets, one")


def test_a_keys_datasets_and_addresses_in_every_state(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    for name in ("Street scenes", "Warehouse"):
        page.goto("/datasets/new")
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_role("button", name="Create dataset").click()
        expect(page).to_have_title(re.compile(f"^{name}"))
    page.goto("/settings/api-keys")
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    listed = dialog.get_by_role("group", name="Datasets the key reaches")
    expect(listed).to_be_hidden()  # All datasets is the default
    dialog.get_by_role("radio", name="Chosen datasets").check()
    expect(listed).to_be_visible()
    check(page, "create dialog, choosing datasets")
    dialog.get_by_label("Name").fill("Partner")
    dialog.get_by_label("Allowed addresses").fill("10.0.0.1/8")
    dialog.get_by_role("button", name="Create key").click()
    expect(page).to_have_title(re.compile("^Error: "))
    dialog = page.get_by_role("dialog", name="Create API Key")
    # Focus on the first field refused, which the summary also links to.
    expect(dialog.get_by_role("group", name="Datasets", exact=True)).to_be_focused()
    addresses = dialog.get_by_label("Allowed addresses")
    expect(addresses).to_have_attribute("aria-invalid", "true")
    expect(addresses).to_have_value("10.0.0.1/8")
    expect(dialog.locator("#key-allowed-ips-error")).to_contain_text("write 10.0.0.0/8")
    expect(dialog.get_by_role("group", name="Datasets the key reaches")).to_be_visible()
    check(page, "create dialog with dataset and address errors", "19-create-limit-errors")

    dialog.get_by_label("Street scenes").check()
    addresses.fill("127.0.0.0/8\n2001:db8::/32")
    dialog.get_by_role("button", name="Create key").click()
    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_contain_text("Full access · 1 dataset · 2 networks")
    key = created.locator("#new-key-value").inner_text().strip()
    dismiss_uncopied_key(page)
    row = page.get_by_role("row", name=re.compile("Partner"))
    expect(row).to_contain_text("1 dataset · 2 networks")
    page.set_viewport_size(DESKTOP)
    table = page.locator(".table-wrap")
    assert table.evaluate("e => e.scrollWidth <= e.clientWidth"), "the keys table overflows"
    check(page, "API keys, a limited key")
    listing = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key})
    assert [item["name"] for item in listing.json()["items"]] == ["Street scenes"]

    row.get_by_role("link", name="Partner", exact=True).click()
    expect(page).to_have_title(re.compile("^Partner · API Keys"))
    expect(page.get_by_role("link", name="Street scenes")).to_be_visible()
    check(page, "a limited key's page", "20-key-limits")
    limits = page.get_by_role("region", name="Change datasets and addresses")
    limits.get_by_label("Street scenes").uncheck()
    limits.get_by_label("Allowed addresses").fill("")
    limits.get_by_role("button", name="Save datasets and addresses").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    check(page, "a key's limits refused")
    page.locator("[data-error-summary]").get_by_role("link").click()
    expect(limits.get_by_role("group", name="Datasets", exact=True)).to_be_focused()
    limits.get_by_role("radio", name="All datasets").check()
    expect(limits.get_by_role("group", name="Datasets the key reaches")).to_be_hidden()
    limits.get_by_role("button", name="Save datasets and addresses").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.get_by_role("definition").filter(has_text="All datasets")).to_have_count(1)
    check(page, "a key's page, its limits lifted")
    listing = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key})
    assert listing.json()["total"] == 2


def open_and_press_enter(page: Page, opener: Locator, dialog_name: str) -> None:
    """Open a confirmation from the keyboard (Space, as a button takes it), check it
    starts on Cancel, press Enter: the dialog closes and focus goes back to what
    opened it."""
    expect(opener).to_have_js_property("tagName", "BUTTON")
    opener.focus()
    page.keyboard.press("Space")
    dialog = page.get_by_role("dialog", name=dialog_name)
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")  # the review: this revoked a key
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()  # back where the user was


def test_destructive_dialogs_open_on_cancel_and_enter_destroys_nothing(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create = page.get_by_role("button", name="Create API Key")
    create.focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("dialog", name="Create API Key")).to_be_visible()
    page.keyboard.press("Escape")
    expect(create).to_be_focused()
    key = create_key(page, "Keep me")
    dismiss_uncopied_key(page)
    revoke = page.get_by_role("button", name=re.compile("^Revoke"))
    open_and_press_enter(page, revoke, "Revoke API key")
    datasets = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key})
    assert datasets.status_code == 200
    open_and_press_enter(page, page.get_by_role("button", name=re.compile("^Roll")), "Roll API key")
    page.reload()  # a roll would add the new key's row and mark this one Rolled
    expect(page.get_by_role("row", name=re.compile("Keep me"))).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile("Keep me"))).to_contain_text("Active")

    page.goto("/datasets/new")
    page.get_by_label("Name", exact=True).fill("Keep these")
    page.locator("#artifact-name-0").fill("box")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Keep these")).to_be_visible()
    open_and_press_enter(page, page.get_by_role("button", name="Delete"), "Delete dataset")
    page.reload()
    expect(page.get_by_role("heading", name="Keep these")).to_be_visible()

    member_email, link = invite(page)
    member_context = new_context(browser, live_server, console_errors)
    member = member_context.new_page()
    join(member, member_email, link)
    page.goto("/settings/members")
    remove = page.get_by_role("button", name=f"Remove {member_email}")
    open_and_press_enter(page, remove, "Remove member")
    page.reload()
    expect(page.get_by_role("cell", name=member_email, exact=True)).to_be_visible()
    member.reload()  # still signed in
    expect(member).to_have_url(re.compile(r"/settings/api-keys$"))
    member_context.close()


def test_what_was_done_or_refused_is_read_out_first(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create_key(page, "Short-lived")
    dismiss_uncopied_key(page)
    # A second tab, still showing the key, revokes it once the first has.
    other = context.new_page()
    other.goto("/settings/api-keys")
    page.get_by_role("button", name=re.compile("^Revoke")).click()
    page.get_by_role("dialog", name="Revoke API key").get_by_role("button", name="Revoke").click()
    done = page.get_by_role("status")
    expect(done).to_have_text("API key “Short-lived” revoked.")
    expect(done).to_be_focused()
    check(page, "a flash message, focused")
    other.get_by_role("button", name=re.compile("^Revoke")).click()
    other.get_by_role("dialog", name="Revoke API key").get_by_role("button", name="Revoke").click()
    refused = other.get_by_role("alert")
    expect(refused).to_have_text("API key not found")
    expect(refused).to_be_focused()
    check(other, "an error flash, focused")
    # A new invitation's one-time link is news too.
    invite(page)
    created = page.get_by_role("region", name="Invitation created")
    expect(created).to_be_focused()


def test_every_dialog_says_what_it_does_to_what(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("button", name="Create API Key").click()
    create = page.get_by_role("dialog", name="Create API Key")
    expect(create).to_have_accessible_description(re.compile("shown once"))
    create.get_by_label("Name").fill("Billing worker")
    create.get_by_role("button", name="Create key").click()
    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_have_accessible_description(
        re.compile("Billing worker.*will not be shown again")
    )
    expect(created.get_by_role("button", name="Copy the API key")).to_be_visible()
    dismiss_uncopied_key(page)
    for opener, dialog_name, described in (
        ("Revoke", "Revoke API key", "Revoke “Billing worker”.*cannot be undone"),
        ("Roll", "Roll API key", "replaces “Billing worker”.*shown once"),
    ):
        page.get_by_role("button", name=re.compile(f"^{opener}")).click()
        dialog = page.get_by_role("dialog", name=dialog_name)
        expect(dialog).to_have_accessible_description(re.compile(described))
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    # After a roll, focus goes back to the row the user acted on: the successor's.
    page.get_by_role("button", name=re.compile("^Roll")).click()
    page.get_by_role("dialog", name="Roll API key").get_by_role("button", name="Roll key").click()
    dismiss_uncopied_key(page)
    newest = page.locator("tbody tr").first
    expect(newest).to_contain_text("Active")
    expect(newest.get_by_role("link", name="Billing worker")).to_be_focused()


def test_closing_the_new_key_warns_once_then_returns_focus_to_create(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create_key(page, "Escaped")
    dialog = page.get_by_role("dialog", name="API key created")
    page.keyboard.press("Escape")
    expect(dialog.get_by_role("alert")).to_contain_text("You have not copied this key")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#created-dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Create API Key")).to_be_focused()


def test_copy_is_announced_every_time_and_the_button_resets(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    key = create_key(page, "Copied")
    dialog = page.get_by_role("dialog", name="API key created")
    status = dialog.get_by_role("status")
    copy = dialog.get_by_role("button", name=re.compile("^Cop(y|ied) the API key"))
    for _ in range(2):
        copy.click()
        expect(status).to_have_text("Copied")
        expect(copy).to_have_accessible_name("Copied the API key")
        assert page.evaluate("navigator.clipboard.readText()") == key
        expect(copy).to_have_accessible_name("Copy the API key", timeout=6000)  # after about 3 s
        expect(status).to_have_text("")
    dialog.get_by_role("link", name="Done").click()  # copied: no warning
    expect(page.locator("#created-dialog")).to_have_count(0)


# Every text the status region is given, in order, from now on.
RECORD_ANNOUNCEMENTS = """(status) => {
  window.announced = [];
  new MutationObserver(() => window.announced.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""


def test_a_second_copy_before_the_button_resets_is_announced_again(
    context: BrowserContext,
) -> None:
    # A live region that already reads "Copied" and is given "Copied" again says
    # nothing: it must be emptied first, or the second copy goes unannounced.
    page = context.new_page()
    sign_up(page, new_email())
    create_key(page, "Copied twice")
    dialog = page.get_by_role("dialog", name="API key created")
    status = dialog.get_by_role("status")
    copy = dialog.get_by_role("button", name=re.compile("^Cop(y|ied) the API key"))
    copy.click()
    expect(status).to_have_text("Copied")
    expect(copy).to_have_accessible_name("Copied the API key")  # not reset yet: about 3 s
    status.evaluate(RECORD_ANNOUNCEMENTS)
    copy.click()
    page.wait_for_function("() => window.announced.includes('Copied')")
    assert page.evaluate("window.announced") == ["", "Copied"]
    expect(copy).to_have_accessible_name("Copied the API key")


def test_an_added_artifact_row_is_numbered_like_the_server_rendered_ones(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.goto("/datasets/new")
    rows = page.get_by_role("group", name=re.compile(r"^Artifact type \d+$"))
    served = rows.count()
    assert served > 0
    page.get_by_role("button", name="Add another type").click()
    added = page.get_by_role("group", name=f"Artifact type {served + 1}")
    expect(added.get_by_label("Type name")).to_be_focused()
    expect(rows).to_have_count(served + 1)
    for number in range(1, served + 2):
        expect(page.get_by_role("group", name=f"Artifact type {number}")).to_have_count(1)


def test_a_refused_key_focuses_the_first_invalid_field_it_shows(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill("Contractor")
    dialog.get_by_label("Expiration").select_option("custom")
    dialog.get_by_label(re.compile("Custom date")).fill("2020-01-01")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create API Key")
    date = dialog.get_by_label(re.compile("Custom date"))
    expect(date).to_be_visible()
    expect(date).to_be_focused()
    expect(date).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Name")).to_have_value("Contractor")
    expect(dialog.get_by_label("Expiration")).to_have_value("custom")
    expect(dialog.locator("#key-expires-on-error")).to_have_text("Error: Choose a date after today")


def test_phone_tables_keep_their_headers_for_screen_readers(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create_key(page, "Phone")
    dismiss_uncopied_key(page)
    page.set_viewport_size(PHONE)
    headers = page.get_by_role("columnheader")
    expect(headers).to_have_count(8)
    cell = page.get_by_role("cell", name="Phone", exact=True)
    expect(cell).to_be_visible()
    email = page.locator(".account-email")
    assert email.evaluate("e => e.scrollWidth <= e.clientWidth")  # not cut short
    shot(page, "18-api-keys-phone")


CONTRAST = """([a, b]) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const linear = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const weights = [0.2126, 0.7152, 0.0722];
  const lum = (c) => rgb(c).map(linear).reduce((sum, v, i) => sum + v * weights[i], 0);
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def srgb(color: str) -> str:
    """A computed colour as rgb(): a color-mix() computes to color(srgb r g b), 0 to 1."""
    if not color.startswith("color(srgb "):
        return color
    red, green, blue = (float(part) * 255 for part in color[11:].rstrip(")").split()[:3])
    return f"rgb({red}, {green}, {blue})"


def contrast(page: Page, first: str, second: str) -> float:
    return float(page.evaluate(CONTRAST, [first, second]))


def test_an_artifact_types_description_and_colour_are_given_as_text(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.goto("/datasets/new")
    page.get_by_label("Name", exact=True).fill("Street scenes")
    page.locator("#artifact-name-0").fill("vehicle")
    page.locator("#artifact-description-0").fill("Cars, vans and lorries")
    page.locator("#artifact-color-0").fill("#ffffff")
    page.get_by_role("button", name="Create dataset").click()
    item = page.get_by_role("listitem").filter(has=page.locator(".chip"))
    expect(item).to_contain_text("vehicle")
    expect(item).to_contain_text("Cars, vans and lorries")
    expect(item).to_contain_text("colour #ffffff")
    check(page, "a dataset's artifact types, described")
    # A white chip still has an edge: 3:1 against the page around it.
    chip = page.locator(".chip").first
    edge = srgb(chip.evaluate("e => getComputedStyle(e).borderTopColor"))
    around = page.locator("main .card").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert contrast(page, edge, around) >= 3
    # In the list of datasets, the chip's text keeps the description for screen readers.
    page.goto("/datasets")
    expect(page.locator(".chip").first).to_have_text("vehicle: Cars, vans and lorries")


def test_focus_ring_field_borders_and_buttons_stand_out_three_to_one(
    context: BrowserContext,
) -> None:
    # WCAG 1.4.11: the review measured the ring at 2.15:1 and field borders at 1.31:1.
    page = context.new_page()
    sign_up(page, new_email())
    page.goto("/datasets/new")
    name = page.get_by_label("Name", exact=True)
    page.keyboard.press("Tab")
    name.focus()
    style = name.evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineColor, s.borderTopColor]; }"
    )
    for surface in ("rgb(255, 255, 255)", "rgb(246, 247, 249)"):
        assert contrast(page, style[0], surface) >= 3, "focus ring"
        assert contrast(page, style[1], surface) >= 3, "field border"
    add_row = page.get_by_role("button", name="Add another type")
    border = add_row.evaluate("e => getComputedStyle(e).borderTopColor")
    assert contrast(page, border, "rgb(255, 255, 255)") >= 3, "'Add another type' looks like text"
    # A plain button (Copy, Cancel, Roll) too: the review measured 1.31:1.
    page.goto("/settings/api-keys")
    create_key(page, "Bordered")
    copy = page.get_by_role("button", name="Copy the API key")
    border = copy.evaluate("e => getComputedStyle(e).borderTopColor")
    assert contrast(page, border, "rgb(255, 255, 255)") >= 3, "a plain button's edge"


def expire_as_unused(settings: Settings, key_id: str) -> int:
    """Make a key 40 days old and never used, then run the unused-key sweep on the live
    server's database; how many keys it expired. In a thread of its own: this one runs
    Playwright's event loop."""

    async def stale_then_sweep() -> int:
        async with open_database(settings) as database:
            await make_stale(database, uuid.UUID(key_id), used_days_ago=None, made_days_ago=40)
            cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=1.0)
            return await expire_unused_keys(database.sessionmaker, cache)

    return run_beside_playwright(stale_then_sweep())


def test_the_key_policy_and_what_it_shows_on_the_api_keys_page(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
    settings: Settings,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create_key(page, "Made before")  # no expiry
    dismiss_uncopied_key(page)
    key_id = page.get_by_role("row", name=re.compile("Made before")).get_attribute("data-key-id")
    assert key_id
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Key policy").click()
    expect(page).to_have_title(re.compile("^Key policy"))
    check(page, "key policy, none set")
    # The tabs fit a phone's width (one more tab than before).
    page.set_viewport_size(PHONE)
    tabs = page.get_by_role("navigation", name="Settings")
    assert tabs.evaluate("e => e.scrollWidth <= e.clientWidth"), "the settings tabs overflow"
    page.set_viewport_size(DESKTOP)

    lifetime = page.get_by_label("Maximum lifetime, in days")
    unused = page.get_by_label("Expire unused keys after, in days")
    lifetime.fill("0")
    unused.fill("soon")
    page.get_by_role("button", name="Save key policy").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    for field in (lifetime, unused):
        expect(field).to_have_attribute("aria-invalid", "true")
    expect(unused).to_have_value("soon")
    check(page, "key policy with errors")
    page.locator("[data-error-summary]").get_by_role("link").first.click()
    expect(lifetime).to_be_focused()
    lifetime.fill("90")
    unused.fill("30")
    page.get_by_role("radio", name="Only the owner, in the dashboard").check()
    page.get_by_role("button", name="Save key policy").click()
    expect(page.get_by_role("status")).to_have_text("Key policy saved.")
    beyond = page.get_by_role("region", name="Keys beyond the maximum lifetime")
    expect(beyond.get_by_role("link", name="Made before")).to_be_visible()
    check(page, "key policy, a key made before it", "26-key-policy")

    page.goto("/settings/api-keys")
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    expiration = dialog.get_by_label("Expiration")
    expect(expiration.locator("option[value=none]")).to_contain_text("the policy gives 90 days")
    expect(expiration).to_have_accessible_description(re.compile("at most 90 days"))
    check(page, "create dialog under a key policy")
    page.keyboard.press("Escape")

    assert expire_as_unused(settings, key_id) == 1
    page.reload()
    notice = page.get_by_role("region", name="Keys expired because unused")
    expect(notice).to_contain_text("unused for 30 days or more (never used)")
    check(page, "API keys, a key expired unused", "27-expired-unused")

    member_email, link = invite(page)  # a developer: reads the policy, changes nothing
    member_context = new_context(browser, live_server, console_errors)
    member = member_context.new_page()
    join(member, member_email, link)
    member.goto("/settings/key-policy")
    expect(member.get_by_role("definition").filter(has_text="90 days")).to_have_count(1)
    expect(member.get_by_role("button", name="Save key policy")).to_have_count(0)
    check(member, "key policy, read by a member")
    member_context.close()

    admin_email, link = invite(page, "Admin")  # may change policies; not an owner
    admin_context = new_context(browser, live_server, console_errors)
    admin = admin_context.new_page()
    join(admin, admin_email, link)
    admin.goto("/settings/api-keys")
    admin.get_by_role("button", name="Create API Key").click()
    dialog = admin.get_by_role("dialog", name="Create API Key")
    full = dialog.get_by_role("radio", name="Full access")
    expect(full).to_be_disabled()
    expect(full).to_have_accessible_description(re.compile("only an owner may create"))
    expect(dialog.get_by_role("radio", name="Restricted")).to_be_checked()
    expect(dialog.get_by_label("Datasets", exact=True)).to_be_visible()  # its levels shown
    check(admin, "create dialog, full access kept to the owner")
    admin_context.close()


def test_limit_pools_and_a_keys_quota_and_pool_in_every_state(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Limit pools").click()
    expect(page).to_have_title(re.compile("^Limit pools"))
    check(page, "limit pools, none yet")
    page.set_viewport_size(PHONE)
    tabs = page.get_by_role("navigation", name="Settings")
    assert tabs.evaluate("e => e.scrollWidth <= e.clientWidth"), "the settings tabs overflow"
    page.set_viewport_size(DESKTOP)

    create = page.get_by_role("region", name="Create a limit pool")
    rate = create.get_by_role("group", name="Rate limit")
    quota = create.get_by_role("group", name="Quota", exact=True)
    rate.get_by_label("Requests").fill("600")
    quota.get_by_label("Requests").fill("0")
    create.get_by_role("button", name="Create pool").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    for refused in (
        create.get_by_label("Name"),
        rate.get_by_label("Window, in seconds"),
        quota.get_by_label("Requests"),
    ):
        expect(refused).to_have_attribute("aria-invalid", "true")
    expect(rate.get_by_label("Requests")).to_have_value("600")
    check(page, "limit pools, a pool refused")
    page.locator("[data-error-summary]").get_by_role("link").first.click()
    expect(create.get_by_label("Name")).to_be_focused()
    create.get_by_label("Name").fill("Acme mobile app")
    rate.get_by_label("Window, in seconds").fill("60")
    quota.get_by_label("Requests").fill("100000")
    quota.get_by_label("Period").select_option("month")
    create.get_by_role("button", name="Create pool").click()
    expect(page.get_by_role("status")).to_have_text("Limit pool “Acme mobile app” created.")
    row = page.get_by_role("row", name=re.compile("Acme mobile app"))
    expect(row).to_contain_text("100,000 of 100,000 left this month")
    check(page, "limit pools, one pool", "28-limit-pools")

    row.get_by_role("link", name="Acme mobile app").click()
    expect(page).to_have_title(re.compile("^Acme mobile app · Limit pools"))
    check(page, "a limit pool")
    change = page.get_by_role("region", name="Change the pool")
    change.get_by_label("Name").fill("")
    change.get_by_role("group", name="Quota", exact=True).get_by_label("Requests").fill("many")
    change.get_by_role("button", name="Save pool").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(change.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    check(page, "a limit pool, a change refused")
    change.get_by_label("Name").fill("Acme mobile app")
    change.get_by_role("group", name="Quota", exact=True).get_by_label("Requests").fill("1000")
    change.get_by_role("button", name="Save pool").click()
    expect(page.get_by_role("status")).to_have_text("Limit pool “Acme mobile app” saved.")
    pool_url = page.url

    page.goto("/settings/api-keys")
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name", exact=True).fill("Mobile")
    dialog_quota = dialog.get_by_role("group", name="Quota", exact=True)
    dialog_quota.get_by_label("Requests").fill("500")
    dialog_quota.get_by_label("Period").select_option("day")
    dialog.get_by_label("Limit pool").select_option(label="Acme mobile app")
    check(page, "create dialog with a quota and a pool")
    dialog.get_by_role("button", name="Create key").click()
    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_contain_text("500 of 500 left today · pool “Acme mobile app”")
    key = created.locator("#new-key-value").inner_text().strip()
    dismiss_uncopied_key(page)
    for _ in range(3):
        answer = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key})
        assert answer.status_code == 200
    page.reload()
    expect(page.get_by_role("row", name=re.compile("Mobile"))).to_contain_text("left today")
    check(page, "API keys, a key with a quota and a pool")

    page.goto(pool_url)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("dialog", name="Delete limit pool")).to_be_visible()
    check(page, "delete limit pool dialog")
    page.get_by_role("dialog", name="Delete limit pool").get_by_role(
        "button", name="Delete pool"
    ).click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("#pool-delete-error")).to_contain_text("Limit pool has 1 key")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    check(page, "a limit pool with keys, its delete refused")

    page.goto("/settings/api-keys")
    page.get_by_role("link", name="Mobile", exact=True).click()
    expect(page).to_have_title(re.compile("^Mobile · API Keys"))
    expect(page.get_by_role("definition").filter(has_text="of 500 left today")).to_have_count(1)
    expect(page.get_by_role("link", name="Acme mobile app")).to_be_visible()
    check(page, "a key's page with its quota and pool", "29-key-quota")
    limits = page.get_by_role("region", name="Change rate limit, quota and pool")
    limits.get_by_role("group", name="Rate limit").get_by_label("Requests").fill("10")
    limits.get_by_role("button", name="Save rate limit, quota and pool").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    check(page, "a key's rate limit refused")
    page.locator("[data-error-summary]").get_by_role("link").click()
    seconds = limits.get_by_role("group", name="Rate limit").get_by_label("Window, in seconds")
    expect(seconds).to_be_focused()
    seconds.fill("60")
    limits.get_by_role("group", name="Quota", exact=True).get_by_label("Requests").fill("")
    limits.get_by_label("Limit pool").select_option(label="None")
    limits.get_by_role("button", name="Save rate limit, quota and pool").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(
        page.get_by_role("definition").filter(has_text="10 requests per 60 seconds")
    ).to_have_count(1)
    check(page, "a key's page, its quota and pool lifted")
