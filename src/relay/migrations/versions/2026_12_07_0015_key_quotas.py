"""Quotas with refill: a key family's quota (`api_keys.quota_requests` per
`quota_period`), and what each family used of it per period
(`api_key_quota_usage`, see relay/limits/quotas.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("quota_requests", sa.Integer()))
        batch.add_column(sa.Column("quota_period", sa.String(5)))
    op.create_table(
        "api_key_quota_usage",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["api_keys.id"],
            name=op.f("fk_api_key_quota_usage_family_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("family_id", "period", name=op.f("pk_api_key_quota_usage")),
    )


def downgrade() -> None:
    op.drop_table("api_key_quota_usage")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("quota_period")
        batch.drop_column("quota_requests")
