"""Scopes, rolling a key, its usage chart and the audit log, in a real browser."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.dashboard.helpers import new_email
from tests.dashboard.test_browser import KEY, dismiss_uncopied_key, shot, sign_up
from tests.live_server import LiveServer


def test_restricted_key_roll_and_audit_in_the_browser(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill("Read-only reporting")
    levels = dialog.locator("#scope-levels")
    expect(levels).to_be_hidden()  # Full access is the default
    dialog.get_by_label("Restricted").check()
    expect(levels).to_be_visible()
    dialog.get_by_label("Datasets", exact=True).select_option("read")
    dialog.get_by_label("Audit log").select_option("read")
    shot(page, "12-create-restricted")
    dialog.get_by_role("button", name="Create key").click()

    created = page.get_by_role("dialog", name="API key created")
    expect(created).to_contain_text("datasets: read, audit: read")
    first_key = created.locator("#new-key-value").inner_text().strip()
    assert KEY.fullmatch(first_key)
    dismiss_uncopied_key(page)
    row = page.get_by_role("row", name=re.compile("Read-only reporting"))
    expect(row).to_contain_text("datasets: read, audit: read")
    headers = {"X-API-Key": first_key}
    assert httpx.get(f"{live_server.base_url}/api/v1/datasets", headers=headers).status_code == 200

    row.get_by_role("button", name=re.compile("Roll")).click()
    roll = page.get_by_role("dialog", name="Roll API key")
    expect(roll).to_contain_text("Read-only reporting")
    roll.get_by_label("The old key stops working").select_option("0")
    shot(page, "13-roll-dialog")
    roll.get_by_role("button", name="Roll key").click()
    rolled = page.get_by_role("dialog", name="API key created")
    second_key = rolled.locator("#new-key-value").inner_text().strip()
    assert KEY.fullmatch(second_key)
    assert second_key != first_key
    dismiss_uncopied_key(page)
    old = httpx.get(f"{live_server.base_url}/api/v1/datasets", headers=headers)
    assert old.json() == {"detail": "API key expired", "code": "api_key_expired"}

    page.get_by_role("link", name="Read-only reporting").first.click()
    expect(page.get_by_role("img", name="Requests per day, last 30 days")).to_be_visible()
    shot(page, "14-key-usage")
    # On a phone the chart is the narrow one: its labels stay readable (about 11 px,
    # not 5) and the last day's is not cut at the edge.
    page.set_viewport_size({"width": 390, "height": 844})
    chart = page.get_by_role("img", name="Requests per day, last 30 days")
    expect(chart).to_have_count(1)
    sizes = chart.locator("text").evaluate_all(
        "texts => texts.map(t => { const box = t.getBoundingClientRect();"
        " const svg = t.ownerSVGElement.getBoundingClientRect();"
        " return [box.height, box.left >= svg.left - 0.5 && box.right <= svg.right + 0.5]; })"
    )
    assert sizes
    assert all(height >= 10 for height, _ in sizes), sizes
    assert all(inside for _, inside in sizes), sizes
    page.set_viewport_size({"width": 1280, "height": 860})

    page.goto("/settings/audit-log")
    page.get_by_label("Action").select_option("api_key.rotated")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile("api_key.rotated"))).to_have_count(1)
    shot(page, "15-audit-log")
