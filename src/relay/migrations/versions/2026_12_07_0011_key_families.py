"""Key families (issue 20): a rotated key's successor joins its predecessor's family,
which shares one rate limit window, and a key made through the API names the key that
made it, so that limits count over a key's lineage.

Existing keys: a key is in the family of the key it was rotated from, walking back
replaced_by_id to the first (its own when it never was a successor); made_by_id is read
from created_by ("api_key:<uuid>") when that key exists in the same tenant.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_api_keys = sa.table(
    "api_keys",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("created_by", sa.String()),
    sa.column("replaced_by_id", sa.Uuid()),
    sa.column("family_id", sa.Uuid()),
    sa.column("made_by_id", sa.Uuid()),
)
KEY_MAKER = "api_key:"


def _maker(created_by: str | None) -> uuid.UUID | None:
    if not created_by or not created_by.startswith(KEY_MAKER):
        return None
    try:
        return uuid.UUID(created_by.removeprefix(KEY_MAKER))
    except ValueError:
        return None


def _backfill() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _api_keys.c.id, _api_keys.c.tenant_id, _api_keys.c.created_by,
            _api_keys.c.replaced_by_id,
        )
    ).all()  # fmt: skip
    tenant_of = {row.id: row.tenant_id for row in rows}
    predecessor_of = {row.replaced_by_id: row.id for row in rows if row.replaced_by_id}
    values = []
    for row in rows:
        family_id, seen = row.id, {row.id}
        # `seen` stops a (never made, but cheap to rule out) loop of replacements.
        while family_id in predecessor_of and predecessor_of[family_id] not in seen:
            family_id = predecessor_of[family_id]
            seen.add(family_id)
        maker = _maker(row.created_by)
        made_by = maker if maker is not None and tenant_of.get(maker) == row.tenant_id else None
        values.append({"key_id": row.id, "family": family_id, "maker": made_by})
    if values:
        connection.execute(
            _api_keys.update()
            .where(_api_keys.c.id == sa.bindparam("key_id"))
            .values(family_id=sa.bindparam("family"), made_by_id=sa.bindparam("maker")),
            values,
        )


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("family_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("made_by_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_keys_made_by_id_api_keys"),
            "api_keys",
            ["made_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _backfill()
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("family_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_index(op.f("ix_api_keys_family_id"), ["family_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index(op.f("ix_api_keys_family_id"))
        batch.drop_constraint(op.f("fk_api_keys_made_by_id_api_keys"), type_="foreignkey")
        batch.drop_column("made_by_id")
        batch.drop_column("family_id")
