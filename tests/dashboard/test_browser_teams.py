"""Teams and signals in a real browser: the notice banner (a key about to expire, a key
used from a new network) and its Dismiss, a key's narrower-scopes suggestion applied,
the 403 page of a role refused a page or a form, a member's role changed and ownership
handed over with the owner's password; axe (and the 320 px reflow check) on each state,
and the keyboard: each action done from it leaves focus on what it announces."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from relay.config import Settings
from relay.db import open_database
from relay.notices import sweeps
from tests.dashboard.conftest import ConsoleWatch, new_context
from tests.dashboard.helpers import PASSWORD, new_email, run_beside_playwright
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_browser import KEY, dismiss_uncopied_key, invite, join, sign_up
from tests.live_server import LiveServer

# True once the page at `url`, fetched again with the page's own session, holds `text`:
# what the server's background writers add (a key's use, flushed once a second) shows
# only on a page served after they wrote. wait_for_function does not wait for a promise,
# so each call starts a fetch if none is under way and answers from the last one done.
SERVED_PAGE_HOLDS = """([url, text]) => {
  window.servedPages ??= {};
  const poll = (window.servedPages[url + "\\n" + text] ??= {found: false, busy: false});
  if (!poll.busy) {
    poll.busy = true;
    fetch(url, {headers: {Accept: "text/html"}})
      .then((answer) => answer.text())
      .then((page) => { poll.found = page.includes(text); })
      .finally(() => { poll.busy = false; });
  }
  return poll.found;
}"""


def wait_until_served(page: Page, url: str, text: str) -> None:
    page.wait_for_function(SERVED_PAGE_HOLDS, arg=[url, text], polling=200)


def create_restricted_key(page: Page, name: str, *, expires_on: str | None = None) -> str:
    """On API keys, a key that writes datasets and reads the audit log; its secret."""
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Restricted").check()
    dialog.get_by_label("Datasets", exact=True).select_option("write")
    dialog.get_by_label("Audit log").select_option("read")
    if expires_on:
        dialog.get_by_label("Expiration").select_option("custom")
        dialog.get_by_label(re.compile("Custom date")).fill(expires_on)
    dialog.get_by_role("button", name="Create key").click()
    key = page.get_by_role("dialog", name="API key created").locator("#new-key-value")
    secret = key.inner_text().strip()
    assert KEY.fullmatch(secret)
    dismiss_uncopied_key(page)
    return secret


def list_datasets(live_server: LiveServer, key: str) -> int:
    headers = {"X-API-Key": key, "User-Agent": "billing-worker/2.1"}
    return httpx.get(f"{live_server.base_url}/api/v1/datasets", headers=headers).status_code


def sweep_notices(settings: Settings) -> int:
    """Run the notice sweep on the live server's database now (its own runs once a
    minute, and when a notice is raised); how many notices it raised. In a thread of
    its own: this one runs Playwright's event loop."""

    async def sweep() -> int:
        async with open_database(settings) as database:
            return await sweeps.sweep(database.sessionmaker)

    return run_beside_playwright(sweep())


def test_the_notice_banner_of_every_page_and_its_dismiss(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
    settings: Settings,
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    key = create_restricted_key(page, "Deploy bot", expires_on=soon)
    assert list_datasets(live_server, key) == 200  # from 127.0.0.0/24, new to the key
    wait_until_served(page, "/settings/api-keys", "was used from a new network")
    # The server's own sweep may have raised it already (the new network's notice wakes
    # it): either way it is raised once this one is done.
    sweep_notices(settings)
    page.reload()

    expiring = page.get_by_role("region", name=re.compile(r"^API key Deploy bot .* expires in"))
    network = page.get_by_role("region", name=re.compile(r"was used from a new network$"))
    expect(expiring).to_contain_text("in about 7 days")
    expect(network).to_contain_text("127.0.0.0/24")
    expect(network).to_contain_text("billing-worker/2.1")
    check(page, "API keys with two notices")
    # Each Dismiss names its notice: the two about one key are told apart.
    dismissals = page.get_by_role("button", name=re.compile("^Dismiss")).all()
    names = [button.text_content() for button in dismissals]
    assert len(names) == len(set(names)) == 2, names
    page.goto("/datasets")
    expect(expiring).to_be_visible()  # on every page, not only the keys
    check(page, "datasets with two notices")

    viewer_email, link = invite(page, "Viewer")
    viewer_context = new_context(browser, live_server, console_errors)
    viewer = viewer_context.new_page()
    join(viewer, viewer_email, link)
    shown = viewer.get_by_role("region", name=re.compile(r"expires in"))
    expect(shown).to_be_visible()
    expect(shown.get_by_role("button", name=re.compile("^Dismiss"))).to_have_count(0)
    check(viewer, "a notice shown to a viewer, who cannot dismiss it")
    viewer_context.close()

    page.goto("/settings/api-keys")
    dismiss = expiring.get_by_role(
        "button", name=re.compile("^Dismiss the notice: API key Deploy bot .* expires in")
    )
    dismiss.press("Space")
    done = page.get_by_role("status")
    expect(done).to_have_text("Notice dismissed.")
    expect(done).to_be_focused()
    expect(expiring).to_have_count(0)
    expect(network).to_be_visible()  # dismissing one leaves the others
    check(page, "a notice dismissed, its flash focused")


def test_a_key_is_narrowed_to_the_scopes_it_used_from_its_page(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    key = create_restricted_key(page, "Reporter")
    page.get_by_role("link", name="Reporter", exact=True).click()
    expect(page).to_have_title(re.compile("^Reporter · API Keys"))
    used = page.get_by_role("region", name="Permissions it used")
    expect(used).to_contain_text("No request in the last 30 days needed a permission.")
    check(page, "a key's page, no permission used yet")

    here = page.url
    assert list_datasets(live_server, key) == 200
    wait_until_served(page, here, "Narrow to datasets:read")
    stale = context.new_page()  # a second tab, left showing the suggestion
    stale.goto(here)
    page.reload()
    expect(used).to_contain_text("In 30 days its requests needed only datasets:read")
    narrow = used.get_by_role("button", name="Narrow to datasets:read")
    expect(narrow).to_have_accessible_description(re.compile("gets 403.*cannot be undone"))
    check(page, "a key's page suggesting narrower scopes")

    narrow.press("Space")
    done = page.get_by_role("status")
    expect(done).to_have_text("API key “Reporter” now holds datasets:read only.")
    expect(done).to_be_focused()
    expect(narrow).to_have_count(0)
    check(page, "a key narrowed, its flash focused")
    wrote = httpx.post(
        f"{live_server.base_url}/api/v1/datasets", json={"name": "x"}, headers={"X-API-Key": key}
    )
    assert wrote.status_code == 403

    stale.get_by_role("button", name="Narrow to datasets:read").press("Enter")
    refused = stale.get_by_role("alert")
    expect(refused).to_contain_text("look at the suggestion again")
    expect(refused).to_be_focused()
    check(stale, "a stale narrowing refused, its error focused")


def test_a_role_refused_a_page_or_a_form_gets_the_403_page(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    owner = context.new_page()
    sign_up(owner, new_email())
    member_email, link = invite(owner, "Viewer")
    member_context = new_context(browser, live_server, console_errors)
    member = member_context.new_page()
    join(member, member_email, link)

    refused = member.goto("/datasets/new")
    assert refused is not None
    assert refused.status == 403
    expect(member).to_have_title(re.compile("^Not allowed for your role"))
    expect(member.get_by_role("heading", level=1)).to_have_text("Not allowed for your role")
    expect(member.get_by_role("main")).to_contain_text("Your role (Viewer) cannot")
    check(member, "the 403 page of a viewer")

    # Made a developer, the member opens the form; made a viewer again before sending it.
    owner.goto("/settings/members")
    role = owner.get_by_label(f"Role of {member_email}")
    change = owner.get_by_role("button", name=f"Change role of {member_email}")
    for new_role in ("Developer", "Viewer"):
        role.select_option(label=new_role)
        change.press("Space")
        expect(owner.get_by_role("status")).to_have_text(f"{member_email} is now {new_role}.")
        if new_role == "Developer":
            member.goto("/datasets/new")
            expect(member).to_have_title(re.compile("^New dataset"))
    member.get_by_label("Name", exact=True).fill("Street scenes")
    member.get_by_role("button", name="Create dataset").click()
    expect(member).to_have_title(re.compile("^Not allowed for your role"))
    expect(member.get_by_role("main")).to_contain_text("Your role (Viewer) cannot")
    check(member, "the 403 page of a form sent after a role change")
    member.goto("/datasets")
    expect(member.get_by_role("link", name="Street scenes")).to_have_count(0)
    member_context.close()


def test_a_members_role_is_changed_and_ownership_handed_over(
    browser: Browser,
    context: BrowserContext,
    live_server: LiveServer,
    console_errors: ConsoleWatch,
) -> None:
    owner = context.new_page()
    owner_email = new_email()
    sign_up(owner, owner_email)
    member_email, link = invite(owner, "Developer")
    member_context = new_context(browser, live_server, console_errors)
    join(member_context.new_page(), member_email, link)
    member_context.close()

    owner.goto("/settings/members")
    check(owner, "members, a developer and the ownership form")
    owner.get_by_label(f"Role of {member_email}").select_option(label="Admin")
    owner.get_by_role("button", name=f"Change role of {member_email}").press("Space")
    done = owner.get_by_role("status")
    expect(done).to_have_text(f"{member_email} is now Admin.")
    expect(done).to_be_focused()
    row = owner.get_by_role("row", name=re.compile(re.escape(member_email)))
    expect(row.get_by_role("cell", name="Admin", exact=True)).to_be_visible()
    check(owner, "members, a role changed, its flash focused")

    remove = owner.get_by_role("button", name=f"Remove {member_email}")
    expect(remove).to_have_js_property("tagName", "BUTTON")
    remove.press("Space")
    removing = owner.get_by_role("dialog", name="Remove member")
    expect(removing).to_have_accessible_description(re.compile(re.escape(member_email)))
    expect(removing.get_by_role("button", name="Cancel")).to_be_focused()
    owner.keyboard.press("Escape")
    expect(removing).to_be_hidden()
    expect(remove).to_be_focused()

    handing = owner.get_by_role("region", name="Hand ownership over")
    new_owner = handing.get_by_label("New owner")
    password = handing.get_by_label("Your password")
    expect(new_owner).to_have_accessible_description(re.compile("you become an admin"))
    handing.get_by_role("button", name="Hand ownership over").click()
    expect(owner).to_have_title(re.compile("^Error: "))
    expect(owner.locator("[data-error-summary]")).to_be_focused()
    expect(new_owner).to_have_attribute("aria-invalid", "true")
    check(owner, "ownership form, no member chosen")
    owner.locator("[data-error-summary]").get_by_role("link").first.click()
    expect(new_owner).to_be_focused()

    new_owner.select_option(label=member_email)
    password.fill("not my password")
    password.press("Enter")
    expect(owner).to_have_title(re.compile("^Error: "))
    expect(owner.locator("[data-error-summary]")).to_be_focused()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_value("")  # a password is never sent back
    check(owner, "ownership form, a wrong password")

    new_owner.select_option(label=member_email)
    password.fill(PASSWORD)
    password.press("Enter")
    done = owner.get_by_role("status")
    expect(done).to_have_text(f"{member_email} is now the owner; you are an admin.")
    expect(done).to_be_focused()
    expect(handing).to_have_count(0)  # an admin hands nothing over
    you = owner.get_by_role("row", name=re.compile(re.escape(owner_email)))
    expect(you).to_contain_text("Admin")
    check(owner, "ownership handed over, its flash focused")
