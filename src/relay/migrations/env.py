"""Alembic environment: runs migrations through the async driver of the configured URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from relay.config import Settings, get_settings
from relay.db import Base, create_engine
from relay.models import __all__ as _all_models  # noqa: F401 (registers every table)

config = context.config
target_metadata = Base.metadata


def _settings() -> Settings:
    settings = config.attributes.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    # Batch mode rebuilds a SQLite table by copying it and dropping the old one; with
    # foreign keys on, that drop would cascade to every row referring to it (rebuilding
    # `tenants` would empty the database). The PRAGMA only works outside a transaction,
    # hence here, as the connection opens; `_check_foreign_keys` checks the result.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"The migration left rows whose references are broken: {broken[:5]}")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # One transaction per revision (as SQLite's migrations always had): an online
        # index change (relay.migrations.online) commits the revisions before it, and
        # each revision's locks are released as it ends, not when the whole upgrade does.
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


async def _run_online() -> None:
    # Unbounded: building an index on a large table may take minutes.
    engine = create_engine(_settings(), bounded=False)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_settings().async_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
