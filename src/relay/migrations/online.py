"""Index changes that let writes go on while a migration runs: on PostgreSQL, CREATE and
DROP INDEX CONCURRENTLY, which must run outside a transaction (Alembic's autocommit
block); on SQLite, whose writers wait for any migration anyway, the plain statements.

The autocommit block first commits whatever the migration did before it, which a retried
upgrade would do again: call these before any other operation of the migration (a test
over versions/ checks it). Each may be run again after a failure: a concurrent build
that failed leaves an INVALID index of its name behind, which is dropped and built anew;
one that succeeded, the upgrade failing later, is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Whether the index named :name is valid; NULL when there is no such index.
_VALIDITY = sa.text(
    "SELECT i.indisvalid FROM pg_index AS i WHERE i.indexrelid = to_regclass(quote_ident(:name))"
)


def _on_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def create_index_online(name: str, table: str, columns: Sequence[str]) -> None:
    """Build the index `name` on `table` (`columns`, in order) without blocking writes."""
    if not _on_postgresql():
        op.create_index(name, table, list(columns))
        return
    context = op.get_context()
    with context.autocommit_block():
        if context.as_sql:
            # A script cannot look for a failed build's leftover: a rerun fails, naming it.
            op.create_index(name, table, list(columns), postgresql_concurrently=True)
            return
        if op.get_bind().execute(_VALIDITY, {"name": name}).scalar() is False:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
        op.create_index(
            name, table, list(columns), postgresql_concurrently=True, if_not_exists=True
        )


def drop_index_online(name: str, table: str) -> None:
    """Drop the index `name` of `table` without blocking writes (a no-op once dropped)."""
    if not _on_postgresql():
        op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
