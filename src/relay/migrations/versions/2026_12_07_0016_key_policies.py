"""Organisation key policies (`key_policies`, one row per tenant that set one; see
relay/key_policy/service.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("max_lifetime_days", sa.Integer()),
        sa.Column("expire_unused_after_days", sa.Integer()),
        sa.Column("full_access_keys", sa.String(12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_key_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_key_policies")),
    )


def downgrade() -> None:
    op.drop_table("key_policies")
