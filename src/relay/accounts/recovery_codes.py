"""Recovery codes: ten single-use codes to sign in without the authenticator app,
shown once and stored as keyed digests (HMAC-SHA256 with a key from
RELAY_SECRET_KEY), so a copy of the database cannot test guesses offline."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts.models import RecoveryCode

COUNT = 10
# Lower-case base32 without look-alikes of digits: 10 characters are 50 bits.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_LENGTH = 10


def new_code() -> str:
    """A code as shown: two groups of five ("k3m9p-x2q7r")."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def _digest(key: bytes, code: str) -> str:
    # Typed back with or without its hyphen, spaces or capitals: the same code.
    normal = "".join(code.split()).replace("-", "").lower()
    return hmac.new(key, normal.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


async def replace_codes(session: AsyncSession, *, user_id: uuid.UUID, key: bytes) -> list[str]:
    """A new set of codes for the user (the old ones stop working); returns them to
    show once."""
    await delete_codes(session, user_id=user_id)
    codes = [new_code() for _ in range(COUNT)]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_digest(key, code)) for code in codes)
    await session.flush()
    return codes


async def use_code(session: AsyncSession, *, user_id: uuid.UUID, key: bytes, code: str) -> bool:
    """Spend one of the user's codes: True if it was theirs and unused. Deleted in one
    statement, so two requests with the same code cannot both succeed."""
    result = await session.execute(
        delete(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _digest(key, code)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def codes_left(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    query = select(func.count()).where(RecoveryCode.user_id == user_id)
    return int(await session.scalar(query) or 0)


async def delete_codes(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
