"""Whether a user wants mail when a key is used from a new network
(`notice_preferences.network`; null, as for rows saved before: wanted).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite (online).
    with op.batch_alter_table("notice_preferences") as batch:
        batch.add_column(sa.Column("network", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("notice_preferences") as batch:
        batch.drop_column("network")
