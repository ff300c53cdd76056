"""INSERT ... ON CONFLICT for the database in use: PostgreSQL's and SQLite's statements
have the same `on_conflict_do_nothing` / `on_conflict_do_update`, but each dialect its
own `insert`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT into `table` (a model or Table) that takes ON CONFLICT clauses."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
