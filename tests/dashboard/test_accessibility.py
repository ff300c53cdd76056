"""WCAG 2.2 AA in every dashboard state, checked by axe-core in Chromium at a desktop
and a phone size, and the keyboard rules of the review: destructive dialogs open on
Cancel, focus returns where it belongs, a one-time key is not thrown away unseen,
every copy is announced.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.dashboard.conftest import DESKTOP, PHONE, assert_accessible
from tests.dashboard.helpers import new_email
from tests.dashboard.test_browser import KEY, dismiss_uncopied_key, shot, sign_up
from tests.live_server import LiveServer


def check(page: Page, state: str, screenshot: str | None = None) -> None:
    """axe at both sizes (the page as it is, dialogs included), back to desktop.
    After a click, the caller first waits (an `expect`) for the state to show: a
    navigation may not have begun when the click returns, and axe run mid-navigation
    finds no document."""
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        assert_accessible(page, state)
    if screenshot:
        shot(page, screenshot)


def create_key(page: Page, name: str) -> str:
    page.get_by_role("link", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key-value").inner_text().strip()
    assert KEY.fullmatch(key)
    return key


def test_every_signed_out_page_and_error_state(context: BrowserContext) -> None:
    page = context.new_page()
    for path, fill, button in (
        ("/login", lambda: (page.get_by_label("Email").fill("nobody@example.com"),
                            page.get_by_label("Password").fill("wrong password")), "Sign in"),
        ("/signup", lambda: page.get_by_label("Email").fill("not an email"), "Create account"),
    ):  # fmt: skip
        page.goto(path)
        check(page, path)
        fill()
        page.get_by_role("button", name=button).click()
        expect(page).to_have_title(re.compile("^Error: "))
        # The summary takes focus and links to the field, which is marked invalid.
        expect(page.locator("[data-error-summary]")).to_be_focused()
        check(page, f"{path} with errors")
    page.goto("/invitations/not-a-real-token")
    check(page, "an unusable invitation")


def test_every_signed_in_page_and_dialog_state(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    check(page, "API keys, none yet")
    page.get_by_role("link", name="Create API Key").click()
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
    dialog.get_by_label("Datasets").select_option("write")
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
    page.get_by_role("link", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("dialog", name="Revoke API key")).to_be_visible()
    check(page, "revoke dialog")
    page.keyboard.press("Escape")
    page.get_by_role("link", name=re.compile("^Roll")).click()
    expect(page.get_by_role("dialog", name="Roll API key")).to_be_visible()
    check(page, "roll dialog")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Contractor", exact=True).click()
    expect(page).to_have_title(re.compile("^Contractor · API Keys"))
    check(page, "a key's page with its chart")

    page.goto("/settings/members")
    check(page, "members")
    page.get_by_label("Email address").fill("not an email")
    page.get_by_role("button", name="Create invitation link").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check(page, "members with an error")
    page.get_by_label("Email address").fill(new_email())
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.get_by_role("heading", name="Invitation created")).to_be_visible()
    check(page, "an invitation link")
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
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("dialog", name=re.compile("^Delete"))).to_be_visible()
    check(page, "delete dialog")
    page.keyboard.press("Escape")
    page.goto("/datasets")
    check(page, "datasets, one")


def test_destructive_dialogs_open_on_cancel_and_enter_destroys_nothing(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    key = create_key(page, "Keep me")
    dismiss_uncopied_key(page)
    revoke = page.get_by_role("link", name=re.compile("^Revoke"))
    revoke.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Revoke API key")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")  # the review: this revoked the key
    expect(dialog).to_be_hidden()
    expect(revoke).to_be_focused()  # back where the user was
    datasets = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers={"X-API-Key": key})
    assert datasets.status_code == 200


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
    expect(page.get_by_role("link", name="Create API Key")).to_be_focused()


def test_copy_is_announced_every_time_and_the_button_resets(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    key = create_key(page, "Copied")
    dialog = page.get_by_role("dialog", name="API key created")
    status = dialog.get_by_role("status")
    copy = dialog.get_by_role("button", name=re.compile("^Cop"))
    for _ in range(2):
        copy.click()
        expect(status).to_have_text("Copied")
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == key
        expect(copy).to_have_text("Copy", timeout=6000)  # after about 3 s
        expect(status).to_have_text("")
    dialog.get_by_role("link", name="Done").click()  # copied: no warning
    expect(page.locator("#created-dialog")).to_have_count(0)


def test_a_refused_key_focuses_the_first_invalid_field_it_shows(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("link", name="Create API Key").click()
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


def contrast(page: Page, first: str, second: str) -> float:
    return float(page.evaluate(CONTRAST, [first, second]))


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
