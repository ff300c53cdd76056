"""Runtime settings, read from `RELAY_*` environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relay.mail import parse_smtp_url

# URLs as a user writes them, mapped to the async drivers the app runs on.
_ASYNC_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def to_async_url(url: str) -> str:
    """Map `sqlite:///x.db` / `postgresql://...` to the async driver URL SQLAlchemy needs."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _ASYNC_SCHEMES:
        supported = "sqlite:///path/to/file.db or postgresql://user:pass@host:port/db"
        raise ValueError(f"Unsupported database URL {scheme!r}: use {supported}")
    return f"{_ASYNC_SCHEMES[scheme]}://{rest}"


def served_url(host: str, port: int) -> str:
    """The address to open for a server bound to host:port. A wildcard host (0.0.0.0,
    ::, or empty) is where a server listens, every address of the machine, not one a
    browser can open (`::` nowhere, 0.0.0.0 not everywhere): the machine's own loopback
    always reaches it, while the name others use could only be guessed, so a server
    that others reach sets RELAY_PUBLIC_URL."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name (localhost, relay.internal), or empty
        return f"http://{host or '127.0.0.1'}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


class Settings(BaseSettings):
    """Everything an operator can configure; see the README's Configuration table."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    # sqlite:///path/to/file.db (the embedded default) or
    # postgresql://user:password@host:port/database (several workers and servers).
    database_url: str = "sqlite:///./data/relay.db"

    # The address `relay serve` binds (--host overrides).
    host: str = "127.0.0.1"

    # The port `relay serve` binds (--port overrides; `make run PORT=...`).
    port: int = Field(default=8000, ge=1, le=65535)

    # critical, error, warning, info or debug.
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # Log lines: readable text for a person at a terminal, JSON lines for a collector;
    # auto is text when stderr is a terminal, else JSON.
    log_format: Literal["auto", "text", "json"] = "auto"
    # Bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How often gathered `last_used_at` values are written, in seconds.
    usage_flush_interval: float = Field(default=1.0, gt=0, le=4.0)
    # Verified keys cached per worker (LRU; 585 bytes each measured, 100,000 is 56 MiB).
    key_cache_size: int = Field(default=100_000, ge=0)
    # Unknown keys remembered per worker, and for how long, in seconds.
    negative_cache_size: int = Field(default=10_000, ge=0)
    negative_cache_ttl: float = Field(default=5.0, ge=0)
    # On start, each worker fills its key cache in the background with the keys used in
    # the last `key_prewarm_window` seconds, at most `key_prewarm_limit` of them (0: no
    # prewarm), so a deploy or a worker restart does not send every key to the database.
    key_prewarm_window: float = Field(default=600.0, ge=0, le=86_400)
    key_prewarm_limit: int = Field(default=10_000, ge=0, le=1_000_000)
    # Failed API authentications allowed per client address and window (seconds).
    auth_failure_limit: int = Field(default=30, ge=1)
    auth_failure_window: float = Field(default=60.0, gt=0)
    # Dashboard: sign-in attempts (any outcome) and sign-ups allowed per client address
    # and window (seconds); the longest wait a failing email imposes on sign-in.
    signin_attempt_limit: int = Field(default=30, ge=1)
    signin_attempt_window: float = Field(default=300.0, gt=0)
    signup_limit: int = Field(default=10, ge=1)
    signup_window: float = Field(default=3600.0, gt=0)
    signin_backoff_max: float = Field(default=30.0, ge=0, le=3600)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For
    # is believed; from anyone else the header is ignored.
    trusted_proxies: str = ""
    # Public keys of trusted leak reporters: "id:base64-DER,..." (see leaks/signatures.py).
    leak_reporter_keys: str = ""
    # Serve the interactive API docs at /docs (false: off; /openapi.json stays).
    docs: bool = True
    # Bearer token for GET /metrics; /metrics answers 404 while it is empty.
    metrics_token: str = ""
    # Dashboard: may anyone create a tenant at /signup? (Else `relay tenants create`.)
    allow_signup: bool = True
    # Dashboard: mark cookies Secure (set true when served over HTTPS).
    cookie_secure: bool = False
    # A database that does not answer within this many seconds counts as down.
    db_connect_timeout: float = Field(default=3.0, gt=0)
    # PostgreSQL connections each worker keeps open; a request beyond them waits for
    # one (up to db_pool_timeout, then 503).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # PostgreSQL connections each worker may open, besides those, for the busiest reads
    # (the dataset list; see reads.ReadPool): opened when first needed.
    db_read_pool_size: int = Field(default=5, ge=1, le=200)
    # Seconds a request may queue for a pooled connection. A queue is load, not an
    # outage (a database that refuses fails its requests at once, one that hangs within
    # db_statement_timeout), so it gets longer than the connect timeout: on a CPU-starved
    # 2-core CI machine requests waited over 3 s for a connection and were answered 503.
    db_pool_timeout: float = Field(default=10.0, gt=0)
    # Seconds one statement may run (PostgreSQL; migrations are not bounded). A database
    # that hangs rather than refuses would otherwise hold every pooled connection for
    # good: their requests wait for ever, and every other one for the pool, then 503.
    db_statement_timeout: float = Field(default=30.0, gt=0)
    # Seconds an idle keep-alive connection stays open. Longer than the idle expiry of
    # clients and proxies (httpx 5 s, nginx upstreams and AWS load balancers 60 s), so
    # they close first: at uvicorn's 5 s a client could reuse a connection the server
    # was closing, and its request failed with a reset.
    keep_alive_timeout: int = Field(default=75, ge=1)
    # `relay serve --workers N`: seconds a worker's event loop may take to answer the
    # supervisor's heartbeat before the worker is replaced (a hung loop would otherwise
    # keep its share of new connections).
    worker_heartbeat_timeout: float = Field(default=5.0, ge=0.5, le=300)
    # Seconds a request's headers may take to arrive whole, counted from the connection's
    # opening (first request) or from the next request's first byte (kept-alive: idle
    # between requests is the keep-alive timeout's). Past it: 408, or a plain close if
    # nothing came (see http_protocol.py). A review held 50 half-sent requests for 90 s.
    header_timeout: float = Field(default=5.0, gt=0, le=300)
    # Seconds a request's body may take to arrive whole after its headers (a 1 MiB body
    # in 30 s is 35 KB/s). Past it: 408. A review held connections with one byte sent.
    body_timeout: float = Field(default=30.0, gt=0, le=3600)
    # Connections one peer address (an IPv6 /64) may have still sending their request
    # (headers or body), per worker; a new one past it is closed at once. Addresses in
    # trusted_proxies are not capped.
    max_header_connections_per_address: int = Field(default=20, ge=1)
    # Where users reach this server (scheme, host, port, any path prefix): every
    # absolute link Relay builds (invitations, Link headers) starts with it. Empty: the
    # address served, from host and port (see served_url), so a changed port changes
    # the links too.
    public_url: str = ""
    # redis://host:port/db: failure counts and per-key rate limits shared by every
    # worker and server. Empty: counted in each process's memory.
    redis_url: str = ""
    # The server's secret key (`relay secret-key` makes one). Empty: one is made at
    # first start and kept in the database (see secret_key.py).
    secret_key: str = Field(default="", repr=False)
    # Audit events older than this many days are deleted (hourly, and by `relay audit prune`).
    audit_retention_days: int = Field(default=90, ge=1, le=3650)
    # Mail (password reset links, sign-up confirmations), see relay/mail.py for the form:
    # smtp://[user[:password]@]host[:port][?starttls=true] or smtps://... Empty: no mail;
    # passwords are then reset by an operator (`relay users reset-password`).
    smtp_url: str = Field(default="", repr=False)
    # The From of Relay's mail ("Relay <relay@example.com>"); needed with smtp_url.
    smtp_from: str = Field(default="", validate_default=True)
    # Dashboard: password-reset requests per client address and window (seconds); mail
    # sent to one address per window (reset links, sign-up confirmations, invitations).
    password_reset_limit: int = Field(default=10, ge=1)
    password_reset_window: float = Field(default=3600.0, gt=0)
    email_limit: int = Field(default=3, ge=1)
    email_window: float = Field(default=3600.0, gt=0)
    # Dashboard, with mail: invitations one organisation may mail per window (whatever
    # the addresses: without it an owner could mail any number of strangers).
    invitation_limit: int = Field(default=20, ge=1)
    invitation_window: float = Field(default=3600.0, gt=0)
    # Webhooks: seconds before a failed delivery's first retry, doubled at each further
    # failure, for 24 hours (then the delivery is failed).
    webhook_retry_base: float = Field(default=30.0, gt=0, le=3600)
    # Webhooks: seconds between looks for deliveries that are due (any worker sends them).
    webhook_poll_interval: float = Field(default=1.0, gt=0, le=60)
    # Webhooks: allow endpoints at loopback, private and link-local addresses (tests, or
    # receivers on a private network). Off: only public addresses are sent to.
    webhook_allow_private: bool = False

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        to_async_url(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value:
            return value  # the address served: see _public_url_of_the_address_served
        if not value.startswith(("http://", "https://")) or any(c in value for c in "?# "):
            raise ValueError("use http(s)://host[:port][/prefix], without query or fragment")
        return value.rstrip("/")

    @field_validator("leak_reporter_keys")
    @classmethod
    def _check_leak_reporter_keys(cls, value: str) -> str:
        from relay.leaks.signatures import reporter_keys

        reporter_keys(value)  # ReporterKeyError (a ValueError) names the bad entry
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use redis://host:port/db, rediss://... or unix:///path")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str) -> str:
        if value:
            parse_smtp_url(value)
        return value

    @field_validator("smtp_from")
    @classmethod
    def _check_smtp_from(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("smtp_url") and not value.strip():
            raise ValueError("set the From address of Relay's mail, e.g. Relay <relay@example.com>")
        return value.strip()

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _public_url_of_the_address_served(self) -> Self:
        if not self.public_url:
            self.public_url = served_url(self.host, self.port)
        return self

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()
