"""Browser fixtures: Chromium (found or installed by tools/provision.py, which
`make test` runs first) driven by Playwright against a live `relay serve`.

Every page a test opens is watched: a console error or an uncaught script error
fails the test, so a missing file (a favicon's 404) or a broken script is caught.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Response,
    sync_playwright,
)
from tools.provision import axe_script, find_chromium

from tests.live_server import LiveServer

# Headless flags that keep Chromium off the network this machine does not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(live_server: LiveServer) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread while it lives: it
    # ends with the module, before async tests need the thread, and starts after
    # the server's set-up (the migrations), which runs a loop of its own.
    # No skip when Chromium is missing: a missing browser must fail loudly.
    executable = find_chromium()
    assert executable, "no Chromium: run `python tools/provision.py chromium`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ConsoleWatch:
    """Console errors and uncaught exceptions of every page in a browser context.

    A page the server answers with an error status (a form sent back with 422, a
    refused sign-in's 401) is one the test asked for; Chromium still logs it as a
    failed load, so those documents are set aside. A failed script, stylesheet or
    icon, or any script error, fails the test."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._error_pages: set[str] = set()

    def watch(self, context: BrowserContext) -> None:
        context.on("response", self._on_response)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.errors.append(f"uncaught: {error.error}"))

    def _on_response(self, response: Response) -> None:
        if response.request.is_navigation_request() and response.status >= 400:
            self._error_pages.add(response.url)

    def _on_console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url")
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and url in self._error_pages:
            return
        self.errors.append(f"{message.text} ({url})")


@pytest.fixture
def console_errors() -> ConsoleWatch:
    return ConsoleWatch()


def new_context(
    browser: Browser, live_server: LiveServer, watch: ConsoleWatch, **options: object
) -> BrowserContext:
    """A fresh browser profile on the live server, its console watched."""
    created = browser.new_context(base_url=live_server.base_url, **options)  # type: ignore[arg-type]
    watch.watch(created)
    return created


@pytest.fixture
def context(
    browser: Browser, live_server: LiveServer, console_errors: ConsoleWatch
) -> Iterator[BrowserContext]:
    created = new_context(
        browser, live_server, console_errors, viewport={"width": 1440, "height": 900}
    )
    created.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    yield created
    created.close()
    assert console_errors.errors == [], "the browser logged errors"


# WCAG 2.2 A and AA, the review's bar.
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now (open dialogs
    included), one line each. Loaded through the DevTools protocol, which the page's
    Content-Security-Policy does not apply to (the page itself runs no other script)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_script().read_text())
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v =>
                `${v.id}: ${v.help} -> ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
        }""",
        AXE_RULES,
    )
    return list(found)


def assert_accessible(page: Page, state: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{state} at {page.viewport_size}: " + "; ".join(violations)


__all__ = ["CHROMIUM_ARGS", "ConsoleWatch", "Error", "assert_accessible", "new_context"]
