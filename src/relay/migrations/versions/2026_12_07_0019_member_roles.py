"""Four member roles (owner, admin, developer, viewer; see relay/tenants/roles.py): a
"member" becomes a developer, who may do what a member did (keys, datasets), and an
invitation carries the role it gives.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE users SET role = 'developer' WHERE role = 'member'")
    # A constant default on a new column: no table rewrite on PostgreSQL 11+ (online).
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(
            sa.Column("role", sa.String(20), nullable=False, server_default="developer")
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("role")
    op.execute("UPDATE users SET role = 'member' WHERE role IN ('admin', 'developer', 'viewer')")
