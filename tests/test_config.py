"""RELAY_DATABASE_URL as a user writes it, mapped to the async drivers."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from relay.config import Settings, to_async_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/relay.db", "sqlite+aiosqlite:///data/relay.db"),
        ("sqlite:////abs/relay.db", "sqlite+aiosqlite:////abs/relay.db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_user_urls_map_to_async_drivers(url: str, expected: str) -> None:
    assert to_async_url(url) == expected


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Unsupported database URL"):
        Settings(database_url="mysql://root@localhost/db")


def test_settings_come_from_relay_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("RELAY_PORT", "9000")
    monkeypatch.setenv("RELAY_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert (settings.database_url, settings.port, settings.log_level) == (
        "postgresql://u@h/db",
        9000,
        "debug",
    )
    assert not settings.is_sqlite


def test_idle_connections_outlive_the_idle_expiry_of_clients_and_proxies() -> None:
    # At uvicorn's default (5 s, httpx's expiry too) a client could send on a
    # connection the server was closing; bench/load.py died of it with a ReadError.
    keep_alive = Settings().keep_alive_timeout
    assert keep_alive > httpx.Limits().keepalive_expiry
    assert keep_alive > 60  # nginx upstream keepalive_timeout, AWS ALB idle timeout


@pytest.mark.parametrize(
    ("host", "port", "links_start_with"),
    [
        ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("localhost", 8080, "http://localhost:8080"),
        # A wildcard is where the server listens, not an address to open: the loopback.
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104
        ("", 9000, "http://127.0.0.1:9000"),
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
    ],
)
def test_links_name_the_address_served_when_no_public_url_is_set(
    host: str, port: int, links_start_with: str
) -> None:
    assert Settings(host=host, port=port).public_url == links_start_with


def test_links_follow_relay_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_PORT", "9000")
    assert Settings().public_url == "http://127.0.0.1:9000"


def test_a_public_url_that_is_set_always_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_PORT", "9000")
    monkeypatch.setenv("RELAY_HOST", "0.0.0.0")  # noqa: S104
    monkeypatch.setenv("RELAY_PUBLIC_URL", "https://relay.example.com/")
    assert Settings().public_url == "https://relay.example.com"


@pytest.mark.parametrize("value", ["auto", "text", "json", "JSON"])
def test_log_format_is_read_from_relay_log_format(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RELAY_LOG_FORMAT", value)
    assert Settings().log_format == value.lower()


def test_an_unknown_log_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_LOG_FORMAT", "pretty")
    with pytest.raises(ValidationError, match="log_format"):
        Settings()
