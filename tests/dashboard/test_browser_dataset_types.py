"""Artifact type rows in a real browser: with JavaScript, Remove takes a row out of
the page before saving (an added one too), says so and leaves focus on the next
row or on "Add another type"; without it, Remove is a checkbox the form sends."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.dashboard.conftest import ConsoleWatch, new_context
from tests.dashboard.helpers import PASSWORD, new_email
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_browser import sign_up
from tests.live_server import LiveServer

ROWS = re.compile(r"^Artifact type \d+$")


def row(page: Page, number: int):  # type: ignore[no-untyped-def]
    return page.get_by_role("group", name=f"Artifact type {number}", exact=True)


def create_dataset(page: Page, *types: str) -> None:
    page.goto("/datasets/new")
    page.get_by_label("Name", exact=True).fill("Street scenes")
    for number, name in enumerate(types, start=1):
        row(page, number).get_by_label("Type name").fill(name)
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Street scenes")).to_be_visible()


def test_an_added_row_removed_before_creating_is_not_created(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    page.goto("/datasets/new")
    rows = page.get_by_role("group", name=ROWS)
    expect(rows).to_have_count(3)
    expect(page.get_by_role("checkbox")).to_have_count(0)  # each Remove is a button here
    page.get_by_label("Name", exact=True).fill("Street scenes")
    row(page, 1).get_by_label("Type name").fill("image")
    row(page, 2).get_by_label("Type name").fill("mask")
    add = page.get_by_role("button", name="Add another type")
    add.click()
    row(page, 4).get_by_label("Type name").fill("keypoint")

    page.get_by_role("button", name="Remove artifact type keypoint").click()
    expect(rows).to_have_count(3)
    expect(add).to_be_focused()  # the last row went: Add is next
    status = page.locator("[data-row-status]")
    expect(status).to_have_text("Row removed")
    expect(status).to_have_attribute("role", "status")

    page.get_by_role("button", name="Remove artifact type mask").click()
    expect(rows).to_have_count(2)
    # The row after it, now the second, has focus; the rows are numbered afresh.
    expect(row(page, 2).get_by_label("Type name")).to_be_focused()
    expect(row(page, 2).get_by_role("button")).to_have_accessible_name("Remove artifact type 2")
    # Every row may go, and one can be added again (a fresh, numbered, empty row).
    page.get_by_role("button", name="Remove artifact type 2").click()
    page.get_by_role("button", name="Remove artifact type image").click()
    expect(rows).to_have_count(0)
    expect(add).to_be_focused()
    add.click()
    expect(row(page, 1).get_by_label("Type name")).to_be_focused()
    expect(row(page, 1).get_by_label("Type name")).to_have_value("")
    row(page, 1).get_by_label("Type name").fill("box")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Street scenes")).to_be_visible()
    expect(page.locator(".chip")).to_have_text(["box"])


def test_types_edited_on_the_dataset_page(context: BrowserContext) -> None:
    page = context.new_page()
    sign_up(page, new_email())
    create_dataset(page, "image", "mask")
    rows = page.get_by_role("group", name=ROWS)
    expect(rows).to_have_count(3)  # the two types and a blank row to add one
    expect(row(page, 1).get_by_label("Type name")).to_have_value("image")

    page.get_by_role("button", name="Add another type").click()
    added = row(page, 4).get_by_label("Type name")
    expect(added).to_be_focused()
    added.fill("keypoint")
    page.get_by_role("button", name="Remove artifact type keypoint").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("button", name="Add another type")).to_be_focused()
    expect(page.locator("[data-row-status]")).to_have_text("Row removed")

    # A renamed type's Remove says its new name.
    row(page, 1).get_by_label("Type name").fill("frame")
    row(page, 1).get_by_label("Description").fill("Camera frames")
    row(page, 1).get_by_label("Colour").fill("#ef4444")
    expect(row(page, 1).get_by_role("button")).to_have_accessible_name("Remove artifact type frame")
    page.get_by_role("button", name="Remove artifact type mask").click()
    expect(row(page, 2).get_by_label("Type name")).to_be_focused()  # the blank row
    row(page, 2).get_by_label("Type name").fill("lidar")
    check(page, "a dataset's artifact types being edited", "30-dataset-types-edit")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Dataset saved.")
    expect(page.locator(".chip")).to_have_text(["frame", "lidar"])
    item = page.get_by_role("listitem").filter(has=page.locator(".chip", has_text="frame"))
    expect(item).to_contain_text("Camera frames")
    expect(item).to_contain_text("colour #ef4444")

    # Refused: the same name twice. What was typed stays; the summary has focus.
    row(page, 2).get_by_label("Type name").fill("frame")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.locator("#artifact-types-error")).to_contain_text(
        "Give each artifact type a different name"
    )
    expect(row(page, 2).get_by_label("Type name")).to_have_value("frame")
    check(page, "a dataset's artifact types refused")


def test_without_javascript_remove_is_a_checkbox_naming_its_type(
    browser: Browser, live_server: LiveServer, console_errors: ConsoleWatch
) -> None:
    context = new_context(browser, live_server, console_errors, java_script_enabled=False)
    page = context.new_page()
    # Not test_browser's sign_up: its axe check needs the JavaScript switched off here.
    page.goto("/signup")
    page.get_by_label("Organisation name").fill("Acme Robotics")
    page.get_by_label("Email").fill(new_email())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/settings/api-keys$"))
    create_dataset(page, "image", "mask")
    page.get_by_role("checkbox", name="Remove artifact type mask").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Dataset saved.")).to_be_visible()
    expect(page.locator(".chip")).to_have_text(["image"])
    context.close()
    assert console_errors.errors == []
