"""Dataset lists that cost the same at any size: dataset_counts, and an index that
orders a tenant's datasets exactly as the lists do.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from relay.migrations.online import create_index_online, drop_index_online

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # (tenant_id, created_at, id) replaces (tenant_id, created_at): with the id, the
    # index gives the lists' full order, ties included, and serves a keyset seek.
    # Online, and so first (relay.migrations.online).
    create_index_online(
        "ix_datasets_tenant_id_created_at_id", "datasets", ["tenant_id", "created_at", "id"]
    )
    drop_index_online("ix_datasets_tenant_id_created_at", "datasets")
    op.create_table(
        "dataset_counts",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", name=op.f("fk_dataset_counts_tenant_id_tenants"), ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("dataset_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_dataset_counts")),
    )
    # Tenants that already have datasets start from their real count; the others
    # get their row at their first create. Run with the servers stopped, as every
    # migration: a dataset created meanwhile would not be counted.
    op.execute(
        "INSERT INTO dataset_counts (tenant_id, dataset_count) "
        "SELECT tenant_id, count(*) FROM datasets GROUP BY tenant_id"
    )


def downgrade() -> None:
    create_index_online("ix_datasets_tenant_id_created_at", "datasets", ["tenant_id", "created_at"])
    drop_index_online("ix_datasets_tenant_id_created_at_id", "datasets")
    op.drop_table("dataset_counts")
