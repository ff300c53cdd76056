"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from relay.config import Settings
from relay.db import Base, Database
from relay.migrations import upgrade_database


def schema_differences(connection: Connection) -> list[object]:
    """What Alembic's autogenerate would change to make the database match the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_database_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)
    assert differences == []


@pytest.mark.backend_independent
def test_upgrading_an_old_sqlite_database_keeps_every_row(tmp_path: Path) -> None:
    """Batch mode rebuilds SQLite tables; with foreign keys on, rebuilding `tenants`
    once cascaded to every row of the database."""
    path = tmp_path / "old.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    upgrade_database(settings, "0002")
    tenant, user = uuid.uuid4().hex, uuid.uuid4().hex
    when = "2026-11-01 00:00:00"
    rows = {
        "tenants": ("INSERT INTO tenants VALUES (?, 'T', ?)", (tenant, when)),
        "users": (
            "INSERT INTO users VALUES (?, ?, 'a@example.com', 'x', 'owner', ?)",
            (user, tenant, when),
        ),
        "api_keys": (
            "INSERT INTO api_keys (id, tenant_id, name, key_prefix, key_hash, scopes, "
            "created_at) VALUES (?, ?, 'K', 'sk_live_ab', ?, '[]', ?)",
            (uuid.uuid4().hex, tenant, "0" * 64, when),
        ),
        "datasets": (
            "INSERT INTO datasets (id, tenant_id, name, artifact_types, created_at, updated_at) "
            "VALUES (?, ?, 'D', '[]', ?, ?)",
            (uuid.uuid4().hex, tenant, when, when),
        ),
        "web_sessions": (
            "INSERT INTO web_sessions (id, user_id, token_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, '2099-01-01 00:00:00')",
            (uuid.uuid4().hex, user, "1" * 64, when),
        ),
    }
    with sqlite3.connect(path) as connection:
        for statement, values in rows.values():
            connection.execute(statement, values)

    upgrade_database(settings)

    with sqlite3.connect(path) as connection:
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in rows
        }
    assert counts == dict.fromkeys(rows, 1)
