"""Failed sign-ins name the device cookie that came with them (counted apart from
everyone else's) and whether they were a second factor's code (bounded per day); a
user's device cookies issued before `devices_valid_after` no longer count.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(sa.Column("device", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_login_failures_device_at", "login_failures", ["device", "at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("devices_valid_after", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("devices_valid_after")
    op.drop_index("ix_login_failures_device_at", table_name="login_failures")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("second_factor")
        batch.drop_column("device")
