"""Notices of leaked keys, shown in the tenant's dashboard until dismissed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leak_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", name=op.f("fk_leak_notices_tenant_id_tenants"), ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column(
            "key_id",
            sa.Uuid(),
            sa.ForeignKey(
                "api_keys.id", name=op.f("fk_leak_notices_key_id_api_keys"), ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("key_label", sa.String(200), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leak_notices")),
    )
    op.create_index(op.f("ix_leak_notices_tenant_id"), "leak_notices", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("leak_notices")
