"""The server's secret key: RELAY_SECRET_KEY when set; otherwise a random one made at
first start and kept in the database (`server_secrets`), so that every worker and
server on that database shares it without configuration.

Each use gets a key of its own, derived with HMAC (`derive(secret, "csrf")`), so
one use's tokens can never stand for another's. Whoever can read the database can
read a stored key: set RELAY_SECRET_KEY to keep it out (two-factor secrets require it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from relay.config import Settings
from relay.db import Base, Database, StoredString

_STORED_NAME = "secret_key"


class ServerSecret(Base):
    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    value: Mapped[str] = mapped_column(StoredString(100))


def new_secret_key() -> str:
    """A fresh key to put in RELAY_SECRET_KEY (256 random bits, URL-safe base64)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


async def load_secret_key(settings: Settings, database: Database) -> bytes:
    """RELAY_SECRET_KEY, or the database's stored key (made now if there is none)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    async with database.sessionmaker() as session:
        stored = await session.scalar(
            select(ServerSecret.value).where(ServerSecret.name == _STORED_NAME)
        )
        if stored is None:
            session.add(ServerSecret(name=_STORED_NAME, value=new_secret_key()))
            try:
                await session.commit()
            except IntegrityError:  # another worker made it first: use theirs
                await session.rollback()
            stored = await session.scalar(
                select(ServerSecret.value).where(ServerSecret.name == _STORED_NAME)
            )
    assert stored is not None
    return stored.encode()


def derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose only."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
