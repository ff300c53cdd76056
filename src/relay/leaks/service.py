"""Acting on a leak report: every token that names a live key revokes it, with an
audit event saying where it was found and a notice for the tenant's dashboard.

A report is read and acted on entry by entry: an entry that cannot be read, or whose
revocation fails, is skipped and logged, and never costs the others their revocation
(an outside review had one NUL in a URL roll a whole report back, every retry too)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import keys
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.db import tenant_select, utcnow
from relay.errors import is_connection_failure
from relay.leaks.models import LeakNotice
from relay.leaks.schemas import LeakedToken
from relay.notices import service as notices

logger = logging.getLogger(__name__)

# What a notice says of a place the report gave in a form Relay cannot keep: the key
# is revoked all the same, since the token is what matters.
UNREADABLE = "(unreadable in the report)"


def read_entries(items: Sequence[Any]) -> list[LeakedToken]:
    """The report's entries that name a token; an entry whose place (url, source, type)
    is unreadable keeps its token, with UNREADABLE for the rest; an entry without a
    usable token is skipped and logged (by position and reason, never its content)."""
    entries: list[LeakedToken] = []
    for position, item in enumerate(items):
        try:
            entries.append(LeakedToken.model_validate(item))
            continue
        except ValidationError as exc:
            problems = sorted({f"{'.'.join(map(str, e['loc']))}:{e['type']}" for e in exc.errors()})
        token = item.get("token") if isinstance(item, dict) else None
        if "token" in {problem.split(":")[0] for problem in problems} or not isinstance(token, str):
            logger.warning(
                "leak report entry skipped",
                extra={"entry": position, "problems": problems[:10]},
            )
            continue
        logger.warning(
            "leak report entry with unreadable fields",
            extra={"entry": position, "problems": problems[:10]},
        )
        entries.append(
            LeakedToken.model_construct(
                token=token, type=UNREADABLE, url=UNREADABLE, source=UNREADABLE
            )
        )
    return entries


async def revoke_leaked(
    session: AsyncSession, tokens: Sequence[LeakedToken], *, reporter: str
) -> list[ApiKey]:
    """Revoke each live key the report names (in the caller's transaction, each entry
    in a savepoint of its own); returns them. An entry whose revocation fails for
    anything but an unreachable database is skipped and logged."""
    actor = Actor(f"leak-report:{reporter}")
    revoked: list[ApiKey] = []
    for position, leaked in enumerate(tokens):
        if not keys.is_well_formed(leaked.token):
            continue
        try:
            async with session.begin_nested():
                api_key = await _revoke_one(session, leaked, actor)
        except Exception as exc:
            if is_connection_failure(exc):
                raise
            logger.error(
                "leak report entry not acted on",
                extra={"entry": position, "error": type(exc).__name__},
            )
            continue
        if api_key is not None:
            revoked.append(api_key)
    return revoked


async def _revoke_one(session: AsyncSession, leaked: LeakedToken, actor: Actor) -> ApiKey | None:
    found = await session.scalar(
        select(ApiKey).where(
            ApiKey.key_hash == keys.hash_key(leaked.token), ApiKey.revoked_at.is_(None)
        )
    )
    if found is None:
        return None
    api_key = await auth_service.revoke_api_key(
        session, tenant_id=found.tenant_id, key_id=found.id, actor=actor
    )
    label = f"{api_key.name} ({api_key.key_prefix}…)"
    audit.record(
        session, tenant_id=api_key.tenant_id, action=Action.API_KEY_LEAKED, actor=actor,
        target=audit.Target("api_key", api_key.id, label),
        details={"url": leaked.url, "source": leaked.source},
    )  # fmt: skip
    session.add(
        LeakNotice(
            tenant_id=api_key.tenant_id,
            key_id=api_key.id,
            key_label=label,
            url=leaked.url,
            source=leaked.source,
            reported_at=utcnow(),
        )
    )
    # The owners' and admins' mail, sent once the report's transaction commits.
    await notices.raise_notice(
        session, tenant_id=api_key.tenant_id, kind=notices.LEAK, api_key=api_key,
        subject_id=api_key.id, mark="revoked", period="",
        details={"url": leaked.url, "source": leaked.source},
    )  # fmt: skip
    return api_key


async def open_notices(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[LeakNotice]:
    query = (
        tenant_select(LeakNotice, tenant_id)
        .where(LeakNotice.dismissed_at.is_(None))
        .order_by(LeakNotice.reported_at.desc())
    )
    return list((await session.scalars(query)).all())


async def dismiss_notice(
    session: AsyncSession, *, tenant_id: uuid.UUID, notice_id: uuid.UUID
) -> None:
    """Hide a notice for everyone in the tenant (another tenant's: nothing happens)."""
    await session.execute(
        update(LeakNotice)
        .where(LeakNotice.tenant_id == tenant_id, LeakNotice.id == notice_id)
        .values(dismissed_at=utcnow())
    )
