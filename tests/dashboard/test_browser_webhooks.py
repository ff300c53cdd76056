"""Settings > Webhooks in a real browser: the empty list with its form, and a refused
URL at its field; axe (and the 320 px reflow check) on each state."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, expect

from tests.dashboard.helpers import new_email
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_browser import sign_up
from tests.live_server import LiveServer


def test_the_webhooks_page_and_a_refused_endpoint(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Add an endpoint")).to_be_visible()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    check(page, "webhooks, none yet")

    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")  # loopback: refused
    page.get_by_role("button", name="Add endpoint").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_label("Endpoint URL")).to_have_attribute("aria-invalid", "true")
    check(page, "webhooks, a refused endpoint")
