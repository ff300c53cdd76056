"""Limit pools (`limit_pools`), the pool a key counts in (`api_keys.pool_id`), and what
each pool's quota used per period (`limit_pool_quota_usage`); see relay/limit_pools.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_pools",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("rate_limit_requests", sa.Integer()),
        sa.Column("rate_limit_seconds", sa.Integer()),
        sa.Column("quota_requests", sa.Integer()),
        sa.Column("quota_period", sa.String(5)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_limit_pools_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_pools")),
    )
    op.create_index(op.f("ix_limit_pools_tenant_id"), "limit_pools", ["tenant_id"])
    op.create_index(
        "ix_limit_pools_tenant_id_created_at", "limit_pools", ["tenant_id", "created_at"]
    )
    op.create_table(
        "limit_pool_quota_usage",
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["limit_pools.id"],
            name=op.f("fk_limit_pool_quota_usage_pool_id_limit_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool_id", "period", name=op.f("pk_limit_pool_quota_usage")),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("pool_id", sa.Uuid()))
        batch.create_index(batch.f("ix_api_keys_pool_id"), ["pool_id"])
        batch.create_foreign_key(
            batch.f("fk_api_keys_pool_id_limit_pools"),
            "limit_pools",
            ["pool_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(batch.f("fk_api_keys_pool_id_limit_pools"), type_="foreignkey")
        batch.drop_index(batch.f("ix_api_keys_pool_id"))
        batch.drop_column("pool_id")
    op.drop_table("limit_pool_quota_usage")
    op.drop_index("ix_limit_pools_tenant_id_created_at", table_name="limit_pools")
    op.drop_index(op.f("ix_limit_pools_tenant_id"), table_name="limit_pools")
    op.drop_table("limit_pools")
