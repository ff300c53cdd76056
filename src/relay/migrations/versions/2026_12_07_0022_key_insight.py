"""What a key's use tells: who used it in the last day (`api_key_clients`, by hour,
address and user agent), the scopes its requests needed (`api_key_scope_uses`), the
networks it was used from (`api_key_networks`), and rotations whose grace ends once
the old key goes quiet (`api_keys.grace_until_quiet`). See relay/auth/insight.py.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _of_key(table: str) -> list[sa.Column[Any] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f(f"fk_{table}_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "api_key_clients",
        *_of_key("api_key_clients"),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "key_id", "hour", "address", "user_agent", name=op.f("pk_api_key_clients")
        ),
    )
    op.create_index(op.f("ix_api_key_clients_tenant_id"), "api_key_clients", ["tenant_id"])
    op.create_index("ix_api_key_clients_hour", "api_key_clients", ["hour"])
    op.create_table(
        "api_key_scope_uses",
        *_of_key("api_key_scope_uses"),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "scope", name=op.f("pk_api_key_scope_uses")),
    )
    op.create_index(op.f("ix_api_key_scope_uses_tenant_id"), "api_key_scope_uses", ["tenant_id"])
    op.create_table(
        "api_key_networks",
        *_of_key("api_key_networks"),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_on", sa.Date()),
        sa.PrimaryKeyConstraint("key_id", "network", name=op.f("pk_api_key_networks")),
    )
    op.create_index(op.f("ix_api_key_networks_tenant_id"), "api_key_networks", ["tenant_id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("grace_until_quiet", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("grace_until_quiet")
    for table in ("api_key_networks", "api_key_scope_uses", "api_key_clients"):
        op.drop_table(table)
