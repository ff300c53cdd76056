"""The organisation key policy: read and set it (owner in Settings, or a full-access key),
and apply it where keys are made.

- `max_lifetime_days`: a key made without an expiry gets the maximum (the end of the
  UTC day that many days ahead); one asked to live longer is refused (422 naming the
  policy). A rotated key's successor is a new
  key: it gets the maximum when its predecessor had none or a later one. Keys made
  before the policy keep their expiry (none is shortened silently); `beyond_policy`
  lists them for the dashboard.
- `expire_unused_after_days`: a key unused that long (or never used and made that long
  ago) expires; see unused_keys.py.
- `full_access_keys: "owners_only"`: only a tenant's owner (in the dashboard) or the
  operator (the `relay` CLI) makes, rotates, or lifts the dataset limit of a key that
  reaches everything (every scope, by `scopes: []` or by listing them all, on every
  dataset); anyone else, a key acting through the API included, gets 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import scopes
from relay.auth.models import ApiKey
from relay.auth.scopes import PermissionDenied
from relay.db import tenant_select, utcnow
from relay.errors import InvalidInput
from relay.key_policy.models import KeyPolicy
from relay.schemas import iso_utc

FullAccessKeys = Literal["allowed", "owners_only"]
OWNERS_ONLY = (
    "Organisation key policy: only an owner may create a full-access key; give the key scopes"
)


@dataclass(frozen=True, slots=True)
class Rules:
    """A tenant's key policy; the default (no row) restricts nothing."""

    max_lifetime_days: int | None = None
    expire_unused_after_days: int | None = None
    full_access_keys: FullAccessKeys = "allowed"

    def latest_expiry(self, now: datetime) -> datetime | None:
        """The latest expiry a key made `now` may have: the end (23:59:59 UTC) of the
        day `max_lifetime_days` from now, as the dashboard's expiry dates mean a day's
        end; None when there is no maximum."""
        if self.max_lifetime_days is None:
            return None
        last_day = (now.astimezone(UTC) + timedelta(days=self.max_lifetime_days)).date()
        return datetime.combine(last_day, time(23, 59, 59), tzinfo=UTC)

    def lifetime(
        self, expires_at: datetime | None, *, asked: bool, now: datetime
    ) -> datetime | None:
        """The expiry a new key gets: `expires_at`, or the policy's maximum when it has
        none or a later one. A later one `asked` for by the caller is refused instead."""
        latest = self.latest_expiry(now)
        if latest is None:
            return expires_at
        if expires_at is None:
            return latest
        if expires_at > latest:
            if asked:
                raise InvalidInput(
                    f"beyond the key policy's max_lifetime_days ({self.max_lifetime_days}): "
                    f"at most {iso_utc(latest)}",
                    loc=("body", "expires_at"),
                )
            return latest
        return expires_at

    def check_full_access(
        self, actor: Actor, key_scopes: Sequence[str], dataset_ids: Sequence[object] | None
    ) -> None:
        """403 when the policy keeps full-access keys to owners, `actor` is not one, and
        the key would reach everything: every scope (`[]`, or each of them listed: the
        same access today) on every dataset (`dataset_ids` None)."""
        if self.full_access_keys != "owners_only" or actor.owner or dataset_ids is not None:
            return
        if scopes.effective(key_scopes) >= scopes.effective([]):
            raise PermissionDenied(OWNERS_ONLY)


async def rules_of(session: AsyncSession, tenant_id: uuid.UUID) -> Rules:
    policy = await session.get(KeyPolicy, tenant_id)
    if policy is None:
        return Rules()
    return Rules(
        max_lifetime_days=policy.max_lifetime_days,
        expire_unused_after_days=policy.expire_unused_after_days,
        full_access_keys="owners_only" if policy.full_access_keys == "owners_only" else "allowed",
    )


async def set_rules(
    session: AsyncSession, *, tenant_id: uuid.UUID, rules: Rules, actor: Actor
) -> Rules:
    """Replace the tenant's policy (audited as key_policy.updated, with what changed);
    existing keys keep their expiry."""
    before = await rules_of(session, tenant_id)
    policy = await session.get(KeyPolicy, tenant_id, with_for_update=True)
    if policy is None:
        policy = KeyPolicy(tenant_id=tenant_id)
        session.add(policy)
    policy.max_lifetime_days = rules.max_lifetime_days
    policy.expire_unused_after_days = rules.expire_unused_after_days
    policy.full_access_keys = rules.full_access_keys
    policy.updated_at = utcnow()
    old, new = asdict(before), asdict(rules)
    changes = {
        name: {"from": old[name], "to": value} for name, value in new.items() if old[name] != value
    }
    if changes:
        audit.record(
            session, tenant_id=tenant_id, action=Action.KEY_POLICY_UPDATED, actor=actor,
            details=changes,
        )  # fmt: skip
    await session.flush()
    return rules


async def beyond_policy(
    session: AsyncSession, tenant_id: uuid.UUID, rules: Rules, *, limit: int
) -> tuple[list[ApiKey], int]:
    """The oldest `limit` of the tenant's live keys that would not be made today under
    its maximum lifetime (no expiry, or a later one than a key made now may have), and
    how many there are in all."""
    now = utcnow()
    latest = rules.latest_expiry(now)
    if latest is None:
        return [], 0
    query = (
        tenant_select(ApiKey, tenant_id)
        .where(ApiKey.revoked_at.is_(None))
        .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > latest))
    )
    keys = await session.scalars(query.order_by(ApiKey.created_at, ApiKey.id).limit(limit))
    count = await session.scalar(query.with_only_columns(func.count()).order_by(None))
    return list(keys.all()), count or 0
