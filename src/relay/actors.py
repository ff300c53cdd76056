"""Who does something: a dashboard user or an API key. Services take an Actor to
decide what it may do (a key never makes a key broader or longer-lived than
itself) and to say who did it in the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from relay.auth.restrictions import DatasetIds, Networks
from relay.text import StoredText, UnstorableText

USER_AGENT_LENGTH = 200
# As the audit log and the sessions keep it (both columns are 200 characters).
USER_AGENT = StoredText(max_length=USER_AGENT_LENGTH)


def clean_user_agent(value: str | None) -> str | None:
    """A user agent fit to store (its first 200 characters, by the USER_AGENT rule), or
    None when it holds what no rule lets through (control characters)."""
    if not value:
        return None
    try:
        return USER_AGENT.clean(value[:USER_AGENT_LENGTH]) or None
    except UnstorableText:
        return None


@dataclass(frozen=True, slots=True)
class Actor:
    """`label` is what the audit log shows: "user:<email>" or "api_key:<prefix>"."""

    label: str
    # () for full access: users, and keys with `scopes: []`.
    scopes: tuple[str, ...] = ()
    # A key's own expiry: what it makes may not outlive it. None for users.
    expires_at: datetime | None = None
    # A key's own rate limit, (requests, per seconds): what it makes or changes may not
    # be allowed more. None for users and unlimited keys.
    rate_limit: tuple[int, int] | None = None
    # A key's datasets and networks: what it makes or changes may reach no more.
    dataset_ids: DatasetIds | None = None
    allowed_networks: Networks | None = None
    # A key's own quota, (requests, period): what it makes may be allowed no more.
    quota: tuple[int, str] | None = None
    # A key's limit pool: what it makes or manages stays in it.
    pool_id: uuid.UUID | None = None
    client_address: str | None = None
    user_agent: str | None = None
    # A tenant's owner, or Relay's operator (SYSTEM): what a key policy may keep to
    # owners (full-access keys) they may do. Never a key.
    owner: bool = False

    @property
    def full_access(self) -> bool:
        """Every scope on every dataset: users, and keys with `scopes: []` and no dataset
        limit (what `requires(FULL_ACCESS)` lets through)."""
        return not self.scopes and self.dataset_ids is None

    @classmethod
    def user(
        cls,
        email: str,
        *,
        owner: bool = False,
        scopes: tuple[str, ...] = (),
        client_address: str | None,
        user_agent: str | None,
    ) -> Actor:
        """A dashboard user; `scopes`: the most a key they make may hold (their role's
        ceiling, relay.tenants.roles; () for full access)."""
        return cls(
            f"user:{email}",
            scopes=scopes,
            owner=owner,
            client_address=client_address,
            user_agent=clean_user_agent(user_agent),
        )

    @classmethod
    def api_key(
        cls,
        key_prefix: str,
        *,
        scopes: tuple[str, ...],
        expires_at: datetime | None,
        rate_limit: tuple[int, int] | None = None,
        dataset_ids: DatasetIds | None = None,
        allowed_networks: Networks | None = None,
        quota: tuple[int, str] | None = None,
        pool_id: uuid.UUID | None = None,
        client_address: str | None,
        user_agent: str | None,
    ) -> Actor:
        return cls(
            f"api_key:{key_prefix}",
            pool_id=pool_id,
            scopes=scopes,
            expires_at=expires_at,
            rate_limit=rate_limit,
            dataset_ids=dataset_ids,
            allowed_networks=allowed_networks,
            quota=quota,
            client_address=client_address,
            user_agent=clean_user_agent(user_agent),
        )


# For what Relay does by itself (an operator's CLI command, a background task).
SYSTEM = Actor("system", owner=True)
