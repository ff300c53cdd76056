"""Who revoked a key (`api_keys.revoked_by`, as the audit log names them), shown with
revoked keys in the dashboard.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite, no long lock (online).
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("revoked_by", sa.String(340)))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_by")
