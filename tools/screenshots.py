"""The dashboard's screenshots in docs/screenshots, made from a seeded server: a fresh
SQLite database, `relay serve` on a free loopback port, an organisation and its keys,
datasets and members made through the dashboard and the API as a user would, 30 days
of usage, then Chromium (headless) at 1280 px and a phone's 390 px. Nothing is edited
by hand, so the pictures are what the product shows today.

    make screenshots                       # writes docs/screenshots/*.png
    .venv/bin/python -m tools.screenshots --out DIR

The docs name only pictures this script makes (tests/tools/test_screenshots.py)."""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from tools.provision import find_chromium

ROOT = Path(__file__).resolve().parents[1]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
RELAY = str(Path(sys.executable).with_name("relay"))
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"  # noqa: S105 (the throwaway server's owner)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# What the pictures show, by file name (docs refer to these names).
SHOTS = (
    "04-key-created",
    "05-api-keys-list",
    "12-create-restricted",
    "13-roll-dialog",
    "14-key-usage",
    "15-audit-log",
    "16-create-errors",
    "17-dataset-errors",
    "18-api-keys-phone",
    "19-api-keys-all",
    "20-members",
    "21-dataset",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def seeded_server(workdir: Path) -> Iterator[tuple[str, Path]]:
    """`relay serve` on a new SQLite database in `workdir`: (its URL, the database file)."""
    database = workdir / "screenshots.db"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")} | {
        "RELAY_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "RELAY_PUBLIC_URL": base_url,
    }
    # Our own fixed commands, run by the venv's relay.
    subprocess.run([RELAY, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [RELAY, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relay serve did not start: see {workdir / 'server.log'}")
            time.sleep(0.1)
        yield base_url, database
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def add_usage(database: Path, days: int = 30) -> None:
    """Requests per day for the last `days` days for every key, as the servers' flushes
    would have written them: the usage charts have a month to show."""
    today = datetime.now(UTC).date()
    with sqlite3.connect(database) as db:
        keys = db.execute("SELECT id, tenant_id FROM api_keys WHERE revoked_at IS NULL").fetchall()
        for number, (key_id, tenant_id) in enumerate(keys):
            for back in range(1, days):
                day = (today - timedelta(days=back)).isoformat()
                ok = 200 + (back * 37 + number * 91) % 400 + (150 if back % 7 in (2, 3) else 0)
                for status_class, requests in (("2xx", ok), ("4xx", ok // 12), ("5xx", back % 9)):
                    db.execute(
                        "INSERT INTO api_key_usage (key_id, tenant_id, day, status_class, requests)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (key_id, tenant_id, day, status_class, requests),
                    )


def save(page: Page, out: Path, name: str) -> None:
    assert name in SHOTS, name
    page.screenshot(path=out / f"{name}.png", full_page=True)


def create_key(page: Page, name: str, **choices: str) -> str:
    """Create a key in the dialog; `choices`: label -> option (select) or "check"."""
    page.get_by_role("button", name="Create API Key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Name").fill(name)
    for label, option in choices.items():
        field = dialog.get_by_label(label, exact=True)
        field.check() if option == "check" else field.select_option(option)
    dialog.get_by_role("button", name="Create key").click()
    return page.locator("#new-key-value").inner_text().strip()


def close_created(page: Page) -> None:
    dialog = page.get_by_role("dialog", name="API key created")
    dialog.get_by_role("button", name="Copy the API key").click()
    dialog.get_by_role("link", name="Done").click()
    expect(page.locator("#created-dialog")).to_have_count(0)


def take(base_url: str, database: Path, out: Path, chromium: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=base_url, viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]
        )
        page = context.new_page()
        page.goto("/signup")
        page.get_by_label("Organisation name").fill("Acme Robotics")
        page.get_by_label("Email").fill("ada@acme.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page).to_have_url(f"{base_url}/settings/api-keys")

        # Errors in the create dialog, then a restricted key chosen.
        page.get_by_role("button", name="Create API Key").click()
        dialog = page.get_by_role("dialog", name="Create API Key")
        dialog.get_by_label("Name").fill("Contractor")
        dialog.get_by_label("Restricted").check()
        dialog.get_by_label("Expiration").select_option("custom")
        dialog.get_by_label("Custom date (the key stops at the end of that day, UTC)").fill(
            "2020-01-01"
        )
        dialog.get_by_role("button", name="Create key").click()
        expect(page).to_have_title("Error: API Keys · Relay")
        save(page, out, "16-create-errors")
        dialog = page.get_by_role("dialog", name="Create API Key")
        dialog.get_by_label("Name").fill("Read-only reporting")
        dialog.get_by_label("Datasets", exact=True).select_option("read")
        dialog.get_by_label("Audit log").select_option("read")
        dialog.get_by_label("Expiration").select_option("90")
        save(page, out, "12-create-restricted")
        dialog.get_by_role("button", name="Create key").click()
        close_created(page)

        full_key = create_key(page, "Production Server")
        save(page, out, "04-key-created")
        close_created(page)
        create_key(page, "CI pipeline", Expiration="30")
        close_created(page)
        old_worker = create_key(page, "Billing worker")
        close_created(page)

        headers = {"X-API-Key": full_key}
        for name, types in (
            (
                "Warehouse robots",
                [("camera_frame", "One frame", "#2563eb"), ("log", "", "#16a34a")],
            ),
            ("Support transcripts", [("transcript", "Chat and calls", "#9333ea")]),
        ):
            body = {
                "name": name,
                "description": f"{name}, collected by Acme's fleet",
                "artifact_types": [
                    {"name": type_name, "description": about or None, "color": color}
                    for type_name, about, color in types
                ],
            }
            httpx.post(f"{base_url}/api/v1/datasets", json=body, headers=headers).raise_for_status()
        for _ in range(12):
            httpx.get(f"{base_url}/api/v1/datasets", headers=headers)
        httpx.get(f"{base_url}/api/v1/datasets", headers={"X-API-Key": old_worker})

        # Roll the billing worker's key (the old one keeps a day's grace).
        page.reload()
        row = page.get_by_role("row", name="Billing worker")
        row.get_by_role("button", name="Roll Billing worker").click()
        roll = page.get_by_role("dialog", name="Roll API key")
        roll.get_by_label("The old key stops working").select_option("86400")
        save(page, out, "13-roll-dialog")
        roll.get_by_role("button", name="Roll key").click()
        close_created(page)

        # A key revoked, for All.
        create_key(page, "Old laptop")
        close_created(page)
        page.get_by_role("button", name="Revoke Old laptop").click()
        page.get_by_role("dialog", name="Revoke API key").get_by_role(
            "button", name="Revoke key"
        ).click()
        expect(page.get_by_text("API key “Old laptop” revoked.")).to_be_visible()
        add_usage(database)
        page.goto("/settings/api-keys")
        save(page, out, "05-api-keys-list")
        page.goto("/settings/api-keys?show=all")
        save(page, out, "19-api-keys-all")
        page.set_viewport_size(PHONE)
        page.goto("/settings/api-keys")
        save(page, out, "18-api-keys-phone")
        page.set_viewport_size(DESKTOP)

        page.get_by_role("link", name="Production Server", exact=True).click()
        expect(page.get_by_role("img", name="Requests per day, last 30 days")).to_be_visible()
        save(page, out, "14-key-usage")
        page.goto("/settings/audit-log")
        save(page, out, "15-audit-log")

        page.goto("/settings/members")
        page.get_by_label("Email address").fill(f"grace-{uuid.uuid4().hex[:4]}@acme.example")
        page.get_by_role("button", name="Create invitation link").click()
        expect(page.locator("[data-announce]").first).to_be_visible()
        save(page, out, "20-members")

        page.goto("/datasets")
        page.get_by_role("link", name="Warehouse robots").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Warehouse robots")
        save(page, out, "21-dataset")
        page.goto("/datasets/new")
        page.locator("#artifact-name-0").fill("Bad Name")
        page.get_by_role("button", name="Create dataset").click()
        expect(page).to_have_title("Error: New dataset · Relay")
        save(page, out, "17-dataset-errors")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS_SCREENSHOTS)
    out: Path = parser.parse_args().out
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium: run `python tools/provision.py chromium`", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, seeded_server(Path(workdir)) as server:
        take(*server, out, chromium)
    missing = [name for name in SHOTS if not (out / f"{name}.png").is_file()]
    if missing:
        print(f"not made: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{len(SHOTS)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
