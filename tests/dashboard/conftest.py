"""Browser fixtures: Chromium (found or installed by tools/provision.py, which
`make test` runs first) driven by Playwright against a live `relay serve`.

Every page a test opens is watched: a console error or an uncaught script error
fails the test, so a missing file (a favicon's 404) or a broken script is caught.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, sync_playwright
from tools.provision import find_chromium

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
    """Console errors and uncaught exceptions of every page in a browser context."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.errors.append(f"uncaught: {error.error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")


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


__all__ = ["CHROMIUM_ARGS", "ConsoleWatch", "Error", "new_context"]
