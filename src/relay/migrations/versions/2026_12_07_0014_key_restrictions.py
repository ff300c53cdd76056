"""A key may be limited to chosen datasets (`api_keys.dataset_ids`) and to addresses
(`api_keys.allowed_ips`); NULL in either means no such limit.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("dataset_ids", sa.JSON()))
        batch.add_column(sa.Column("allowed_ips", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("allowed_ips")
        batch.drop_column("dataset_ids")
