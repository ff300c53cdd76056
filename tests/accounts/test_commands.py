"""`relay users reset-password` and `relay users disable-two-factor`: what an
operator does for a user who cannot; each migrates first and fails in one line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from relay import cli
from relay.config import Settings, get_settings
from relay.db import Database
from tests.accounts.helpers import (
    actions_of,
    make_owner,
    password_step,
    signed_in,
    turn_on_two_factor,
)
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_in

runner = CliRunner()
NEW_PASSWORD = "handed over by the operator"


@pytest.fixture
def relay_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("RELAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAY_PUBLIC_URL", "https://relay.example.com")
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


async def invoke(*args: str) -> tuple[int, str, str]:
    # The CLI runs its own event loop, so it runs in a thread beside the test's.
    result = await asyncio.to_thread(runner.invoke, cli.app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_reset_password_prints_a_single_use_link(
    relay_env: Settings, db: Database, client: httpx.AsyncClient
) -> None:
    owner = await make_owner(db)
    await signed_in(client, owner.email)
    code, out, _ = await invoke("users", "reset-password", "--email", owner.email.upper())
    assert code == 0
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://relay.example.com/reset-password/")
    assert "works once" in out
    path = "/" + link.split("/", 3)[3]
    done = await post_form(client, path, path, {"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert (await client.get(path)).status_code == 404
    assert (await sign_in(client, owner.email, NEW_PASSWORD)).status_code == 303
    actions = await actions_of(db, owner)
    assert "user.password_reset_link_created" in actions
    assert "user.password_reset" in actions


async def test_reset_password_json_and_an_unknown_email(relay_env: Settings, db: Database) -> None:
    owner = await make_owner(db)
    code, out, _ = await invoke("users", "reset-password", "--email", owner.email, "--json")
    assert code == 0
    printed = json.loads(out)
    assert set(printed) == {"link", "expires_at"}
    stranger = new_email()
    code, out, err = await invoke("users", "reset-password", "--email", stranger)
    assert code == 1
    assert err.strip() == f"Error: No user has the email {stranger}"
    code, out, _ = await invoke("users", "reset-password", "--email", stranger, "--json")
    assert code == 1
    assert json.loads(out) == {"error": f"No user has the email {stranger}"}


async def test_disable_two_factor_lets_the_password_alone_sign_in_again(
    relay_env: Settings, db: Database, browser_a: httpx.AsyncClient,
    browser_b: httpx.AsyncClient,
) -> None:  # fmt: skip
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    await turn_on_two_factor(browser_a)
    await password_step(browser_b, owner.email)
    code, out, _ = await invoke("users", "disable-two-factor", "--email", owner.email)
    assert code == 0
    assert f"Two-factor sign-in is off for {owner.email}" in out
    browser_b.cookies.clear()
    assert (await sign_in(browser_b, owner.email, PASSWORD)).headers["location"] == (
        "/settings/api-keys"
    )
    code, _, err = await invoke("users", "disable-two-factor", "--email", owner.email)
    assert code == 1
    assert "not on" in err
    assert "user.two_factor_disabled" in await actions_of(db, owner)
