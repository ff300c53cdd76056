"""ORM models for API keys and what their use leaves behind. Only the SHA-256 digest
of a key is stored, never the key."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, false
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredJSON, StoredString, TenantOwned, UTCDateTime, utcnow


class ApiKey(TenantOwned, Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_id_created_at", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(StoredString(100))
    key_prefix: Mapped[str] = mapped_column(StoredString(12))
    key_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(StoredJSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who revoked it, as the audit log names them (Actor.label: "user:<email>",
    # "api_key:<prefix>", "leak-report:<reporter>"); set by revoke_api_key, the one way
    # a key is revoked.
    revoked_by: Mapped[str | None] = mapped_column(StoredString(340))
    # Who made the key: "user:<uuid>" (CLI, dashboard) or "api_key:<uuid>" (the API).
    created_by: Mapped[str | None] = mapped_column(StoredString(80))
    # The key's own rate limit: at most `requests` in any `rate_limit_seconds`.
    rate_limit_requests: Mapped[int | None] = mapped_column(Integer)
    rate_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    # Set when the key was rotated: its successor, and when.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A rotated key whose grace ends once it has gone QUIET_AFTER unused (within the
    # grace's bound): relay.auth.grace ends it.
    grace_until_quiet: Mapped[bool] = mapped_column(default=False, server_default=false())
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    # Set while the key is suspended (refused with 401 "API key disabled"); cleared
    # when it is resumed.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The datasets the key reaches (their ids; None: all of the tenant's) and the
    # networks it may be used from (None: anywhere). See auth/restrictions.py.
    dataset_ids: Mapped[list[str] | None] = mapped_column(StoredJSON)
    allowed_ips: Mapped[list[str] | None] = mapped_column(StoredJSON)
    # The family's quota: at most `quota_requests` per "day", "month" or "none" (ever);
    # counted in api_key_quota_usage (limits/quotas.py).
    quota_requests: Mapped[int | None] = mapped_column(Integer)
    quota_period: Mapped[str | None] = mapped_column(StoredString(5))
    # The key's family: the id of the key it was rotated from at the start of the chain
    # (its own id when it was never a successor). A family shares one rate limit window,
    # so rotating a key never gives it a fresh one.
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # The key that made this one through the API (created or rotated it), if any: its
    # family's limit, and those of whatever made it, bind this key's family too.
    made_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    # The limit pool the key counts in as well (limit_pools/), if any.
    pool_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("limit_pools.id", ondelete="SET NULL"), index=True
    )

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def rate_limit(self) -> dict[str, int] | None:
        if self.rate_limit_requests is None or self.rate_limit_seconds is None:
            return None
        return {"requests": self.rate_limit_requests, "per_seconds": self.rate_limit_seconds}


class ApiKeyUsage(TenantOwned, Base):
    """Requests made with a key per UTC day and status class ("2xx" ... "5xx")."""

    __tablename__ = "api_key_usage"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status_class: Mapped[str] = mapped_column(StoredString(3), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class ApiKeyAddress(TenantOwned, Base):
    """A client address a key was used from, and when first: the first use from a new
    address is an audit event."""

    __tablename__ = "api_key_addresses"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKeyAddressRefusal(TenantOwned, Base):
    """When a use of a key from an address outside its `allowed_ips` was last audited,
    per key and address: every worker and server audits such refusals at most once a
    minute per pair, one conditional upsert deciding which (relay.auth.activity)."""

    __tablename__ = "api_key_address_refusals"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # No refusal from the pair is audited before this moment (noted_at + a minute).
    quiet_until: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyClient(TenantOwned, Base):
    """Requests made with a key per UTC hour from one address and user agent, with the
    last of them: who uses the key, kept for two days (see auth/insight.py)."""

    __tablename__ = "api_key_clients"
    __table_args__ = (Index("ix_api_key_clients_hour", "hour"),)

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    address: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    # '' when the client sent none (a key column cannot be null).
    user_agent: Mapped[str] = mapped_column(StoredString(200), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKeyScopeUse(TenantOwned, Base):
    """The last time a request made with the key needed each scope (or full access)."""

    __tablename__ = "api_key_scope_uses"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKeyNetwork(TenantOwned, Base):
    """A network (an IPv4 /24, an IPv6 /48) a key was used from, when last, and the day
    its first use after 30 days without one was announced (api_key.new_network)."""

    __tablename__ = "api_key_networks"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    network: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    noticed_on: Mapped[date | None] = mapped_column(Date)
