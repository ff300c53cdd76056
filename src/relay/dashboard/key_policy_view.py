"""What the organisation key policy shows on the API Keys page: what the create dialog
says a key will get under it, and the notice of keys it expired because unused (read
from their `api_key.expired_unused` audit events). The rules are key_policy/service.py's;
this module only words them. Apart from the page modules, which do not import each other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.auth.scopes import PermissionDenied
from relay.key_policy import service as key_policy

# The notice lists the keys expired in this many days, the newest this many of them.
NOTICE_DAYS = 30
NOTICE_LISTED = 20


def days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class CreateTerms:
    """What the policy changes in the create dialog: the label of the "no expiry"
    choice, a hint under the expiry, and why Full access is not offered (None: it is)."""

    no_expiry: str
    expiry_hint: str | None
    full_access_refused: str | None


ROLE_FULL_ACCESS = (
    "Full access is for owners and admins: your role makes keys with the permissions chosen below"
)


def create_terms(rules: key_policy.Rules, actor: Actor, *, now: datetime) -> CreateTerms:
    """The dialog's words for `rules`, as `actor` would be held to them by the service."""
    latest = rules.latest_expiry(now)
    if latest is None or rules.max_lifetime_days is None:
        no_expiry, hint = "No expiration", None
    else:
        lifetime = days(rules.max_lifetime_days)
        no_expiry = f"No expiry asked: the policy gives {lifetime}, until {latest:%Y-%m-%d}"
        hint = (
            f"The organisation key policy: a key lives at most {lifetime}, until the "
            f"end of {latest:%Y-%m-%d} (UTC) for a key made now."
        )
    if actor.scopes:  # a role whose keys hold chosen scopes: the service refuses []
        return CreateTerms(no_expiry, hint, ROLE_FULL_ACCESS)
    try:  # the service's own check, so the dialog cannot say otherwise than it does
        rules.check_full_access(actor, [], None)
    except PermissionDenied as exc:
        return CreateTerms(no_expiry, hint, exc.detail)
    return CreateTerms(no_expiry, hint, None)


def expiry_refusal(rules: key_policy.Rules, *, now: datetime) -> str:
    """The create form's words for an expiry the policy refused (the API's names the
    policy's field; people read what to choose instead)."""
    latest = rules.latest_expiry(now)
    if latest is None or rules.max_lifetime_days is None:  # the policy changed meanwhile
        return "Choose the expiry again: the organisation key policy has changed"
    return (
        f"The organisation key policy allows at most {days(rules.max_lifetime_days)}: "
        f"choose a date until {latest:%Y-%m-%d}, or no expiry to get the most"
    )


@dataclass(frozen=True)
class ExpiredUnused:
    """A key the policy expired because unused, as its audit event tells it."""

    key_id: uuid.UUID | None
    # "<name> (<prefix>…)", as the event names its key.
    label: str
    at: datetime
    unused_days: int | None
    last_used_at: datetime | None


def _expired_unused(event: AuditEvent) -> ExpiredUnused:
    details = event.details or {}
    unused_days = details.get("expire_unused_after_days")
    last_used = details.get("last_used_at")
    try:
        key_id = uuid.UUID(event.target_id) if event.target_id else None
        last_used_at = datetime.fromisoformat(last_used) if isinstance(last_used, str) else None
    except ValueError:  # written by the sweep, so never; but a notice is no place for a 500
        key_id, last_used_at = None, None
    return ExpiredUnused(
        key_id=key_id,
        label=event.target_name or "An API key",
        at=event.at,
        unused_days=unused_days if isinstance(unused_days, int) else None,
        last_used_at=last_used_at,
    )


async def api_keys_context(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: Actor, now: datetime
) -> dict[str, Any]:
    """What the API Keys page shows of the policy: `create_terms` for its dialog, and
    the keys expired unused in the last NOTICE_DAYS days (newest first, at most
    NOTICE_LISTED; `more_expired_unused` when there were others)."""
    rules = await key_policy.rules_of(session, tenant_id)
    events = await audit.list_events(
        session,
        tenant_id=tenant_id,
        page=1,
        page_size=NOTICE_LISTED,
        action=Action.API_KEY_EXPIRED_UNUSED,
        since=now - timedelta(days=NOTICE_DAYS),
    )
    return {
        "create_terms": create_terms(rules, actor, now=now),
        "expired_unused": [_expired_unused(event) for event in events.items],
        "more_expired_unused": events.next_position is not None,
        "notice_days": NOTICE_DAYS,
    }
