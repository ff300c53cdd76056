"""The audit log filtered by actor and API key in Chromium: the form's labels work,
what is filtered stays chosen, and the page passes axe at every size with no sideways
scrolling at 320 px."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, expect

from tests.dashboard.helpers import new_email
from tests.dashboard.test_accessibility import check, create_key
from tests.dashboard.test_browser import dismiss_uncopied_key, sign_up


def test_the_audit_log_filtered_by_actor_and_key_is_accessible(context: BrowserContext) -> None:
    page = context.new_page()
    email = new_email()
    sign_up(page, email)
    prefixes = {}
    for name in ("Deploy", "Nightly batch"):
        prefixes[name] = create_key(page, name)[:12]
        dismiss_uncopied_key(page)
    page.goto("/settings/audit-log")
    page.get_by_label("Actor").select_option(label=email)
    page.get_by_label("API key").select_option(
        label=f"Nightly batch ({prefixes['Nightly batch']}…)"
    )
    page.get_by_label("Action").select_option(label="API key created")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]key=[0-9a-f-]{36}"))
    rows = page.get_by_role("row", name=re.compile("API key created"))
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Nightly batch")
    expect(rows).to_contain_text(email)
    expect(page.get_by_label("Actor")).to_have_value(f"user:{email}")
    check(page, "audit log filtered by actor, key and action")
    page.get_by_role("link", name="Clear filters").click()
    expect(page.get_by_role("row", name=re.compile("API key created"))).to_have_count(2)
