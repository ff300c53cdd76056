"""Alembic migrations, and `upgrade_database`, the one way the app creates its schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from relay.config import Settings


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for `settings.database_url`, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", "relay:migrations")
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["settings"] = settings
    return config


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Apply every migration up to `revision` (blocking; call outside an event loop)."""
    command.upgrade(alembic_config(settings), revision)
