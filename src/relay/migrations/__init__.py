"""Alembic migrations, `upgrade_database` (the one way the app creates its schema), and
the checks that a database's schema is one this version of Relay can run on."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from relay import __version__
from relay.config import Settings
from relay.db import open_database
from relay.invocation import invoked_as


class SchemaError(Exception):
    """The database's schema cannot be used as it is; the message says what to do."""


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for `settings.database_url`, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", "relay:migrations")
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["settings"] = settings
    return config


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


async def _database_revisions(settings: Settings) -> tuple[str, ...]:
    async with open_database(settings) as database, database.engine.connect() as connection:
        return await connection.run_sync(_current_heads)


def _check_known(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the database's revisions, the code's heads); SchemaError when the database was
    migrated by a newer Relay, whose revisions this code does not have."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    revisions = asyncio.run(_database_revisions(settings))
    for revision in revisions:
        try:
            script.get_revision(revision)
        except CommandError:
            raise SchemaError(
                f"The database schema is at revision {revision}, which Relay {__version__} "
                "does not know: a newer Relay migrated it. Run that version, or point "
                "RELAY_DATABASE_URL at another database."
            ) from None
    return revisions, tuple(script.get_heads())


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Apply every migration up to `revision` (blocking; call outside an event loop)."""
    _check_known(settings)
    command.upgrade(alembic_config(settings), revision)


def require_current_schema(settings: Settings) -> None:
    """SchemaError unless the database is migrated to exactly this code's schema."""
    revisions, heads = _check_known(settings)
    if set(revisions) != set(heads):
        relay = invoked_as()
        raise SchemaError(
            f"The database schema is not up to date: run `{relay} db upgrade` "
            f"(or `{relay} serve` without --no-migrate)."
        )
