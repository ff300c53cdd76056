"""Settings > Webhooks in a real browser, each state checked by `check()` (axe at both
sizes, 320 px reflow, news announced, dialogs described): the empty list with its
form and a refused URL at its field (on the shared server, which refuses loopback);
then, on a server that can deliver to a receiver on loopback, the signing secret shown
once, an endpoint's delivery log, its change refused then saved, and the delete dialog
opened with Space on Cancel."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from relay.config import Settings
from tests.dashboard.conftest import ConsoleWatch, new_context
from tests.dashboard.helpers import new_email
from tests.dashboard.test_accessibility import check, create_key
from tests.dashboard.test_browser import dismiss_uncopied_key, sign_up
from tests.live_server import LiveServer, run_server
from tests.webhooks.conftest import SERVER_KEY
from tests.webhooks.receiver import Receiver, run_receiver

SECRET = re.compile(r"^whsec_[A-Za-z0-9_-]+$")
LOGGED = ("HTTP 500", "Pending", "HTTP 200", "Delivered")


@pytest.fixture(scope="module")
def webhook_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server that seals signing secrets and sends to loopback (the receiver), with a
    back-off long enough that a failed delivery stays pending while the test looks."""
    log_path = tmp_path_factory.mktemp("webhooks-live") / "relay-serve.log"
    env = {
        "RELAY_SIGNUP_LIMIT": "100000",
        "RELAY_SIGNIN_ATTEMPT_LIMIT": "100000",
        "RELAY_SECRET_KEY": SERVER_KEY,
        "RELAY_WEBHOOK_ALLOW_PRIVATE": "true",
        "RELAY_WEBHOOK_RETRY_BASE": "3600",
        "RELAY_WEBHOOK_POLL_INTERVAL": "0.1",
    }
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server


@pytest.fixture
def webhook_page(
    browser: Browser, webhook_server: LiveServer, console_errors: ConsoleWatch
) -> Iterator[Page]:
    """A page of a fresh profile on the webhook server, its console watched."""
    created = new_context(
        browser, webhook_server, console_errors, viewport={"width": 1440, "height": 900}
    )
    created.grant_permissions(["clipboard-read", "clipboard-write"], origin=webhook_server.base_url)
    yield created.new_page()
    created.close()
    assert console_errors.errors == [], "the browser logged errors"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as running:
        yield running


def open_webhooks(page: Page) -> None:
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Add an endpoint")).to_be_visible()


def add_endpoint(page: Page, url: str) -> None:
    """Add an endpoint for every event on Settings > Webhooks, then open its page."""
    open_webhooks(page)
    page.get_by_label("Endpoint URL").fill(url)
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", name="Endpoint added: its signing secret")).to_be_visible()


def open_endpoint(page: Page, url: str) -> None:
    page.goto("/settings/webhooks")
    page.get_by_role("link", name=url).click()
    expect(page.get_by_role("heading", name="Webhook endpoint")).to_be_visible()


def test_the_webhooks_page_and_a_refused_endpoint(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    open_webhooks(page)
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    check(page, "webhooks, none yet")

    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")  # loopback: refused
    page.get_by_role("button", name="Add endpoint").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_label("Endpoint URL")).to_have_attribute("aria-invalid", "true")
    check(page, "webhooks, a refused endpoint")


def test_the_signing_secret_shown_once_and_the_delivery_log(
    webhook_page: Page, receiver: Receiver
) -> None:
    page = webhook_page
    sign_up(page, new_email())
    add_endpoint(page, receiver.url())
    secret = page.locator("#webhook-secret")
    expect(secret).to_have_text(SECRET)
    check(page, "webhooks, the signing secret shown once")
    page.get_by_role("button", name="Copy the signing secret").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    page.goto("/settings/webhooks")
    expect(page.locator("#webhook-secret")).to_have_count(0)

    # Two api_key.created events: the first answered 500 (pending, retried in an hour),
    # the second 200 (delivered).
    receiver.answer_next(500)
    page.goto("/settings/api-keys")
    for name in ("Deploy", "Billing worker"):
        create_key(page, name)
        dismiss_uncopied_key(page)
    receiver.arrived_sync(2)
    open_endpoint(page, receiver.url())
    # The sender records each answer just after it: the page may be a moment ahead.
    deadline = time.monotonic() + 15
    while not all(said in (shown := page.locator("main").inner_text()) for said in LOGGED):
        assert time.monotonic() < deadline, f"the log never showed both: {shown}"
        time.sleep(0.1)
        page.reload()
    log = page.get_by_role("table")
    expect(log.get_by_role("row")).to_have_count(3)  # the header and two deliveries
    check(page, "an endpoint's page with its delivery log")


def test_an_endpoint_changed_refused_then_saved_and_its_delete_dialog(
    webhook_page: Page, receiver: Receiver
) -> None:
    page = webhook_page
    sign_up(page, new_email())
    add_endpoint(page, receiver.url())
    open_endpoint(page, receiver.url())
    expect(page.get_by_text("No deliveries yet")).to_be_visible()
    url = page.get_by_label("Endpoint URL")
    expect(url).to_have_value(receiver.url())

    # The form's own rules first (an event at least), then the URL's, as through the API.
    url.fill("ftp://example.com/hooks")
    page.get_by_label("All events, those to come included").uncheck()
    page.get_by_role("button", name="Save endpoint").click()
    expect(page).to_have_title(re.compile("^Error: "))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(["Choose the events to send, or All events"])
    expect(page.get_by_role("group", name="Events")).to_have_accessible_description(
        re.compile("Choose the events to send")
    )
    expect(url).to_have_value("ftp://example.com/hooks")  # kept as typed
    check(page, "an endpoint's change refused: no event")
    revoked = page.get_by_label("api_key.revoked", exact=True)
    revoked.check()
    page.get_by_role("button", name="Save endpoint").click()
    expect(summary.get_by_role("link")).to_have_text(
        ["Only http:// and https:// URLs can receive webhooks"]
    )
    expect(summary).to_be_focused()
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_have_value("ftp://example.com/hooks")
    expect(revoked).to_be_checked()
    check(page, "an endpoint's change refused: its URL")

    moved = receiver.url(path="/moved")
    url.fill(moved)
    page.get_by_role("button", name="Save endpoint").click()
    saved = page.get_by_role("status").filter(has_text="Endpoint saved")
    expect(saved).to_be_focused()  # read out at once
    expect(page.get_by_role("definition").filter(has_text=moved)).to_have_count(1)
    check(page, "an endpoint saved")

    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_have_js_property("tagName", "BUTTON")
    delete.focus()
    page.keyboard.press("Space")
    dialog = page.get_by_role("dialog", name="Delete webhook endpoint")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    expect(dialog).to_have_accessible_description(re.compile(re.escape(moved)))
    check(page, "an endpoint's delete dialog")
    dialog.get_by_role("button", name="Delete endpoint").click()
    deleted = page.get_by_role("status").filter(has_text="Endpoint deleted")
    expect(deleted).to_be_focused()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    check(page, "webhooks, an endpoint deleted")
