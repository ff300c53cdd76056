"""A pending sign-up keeps only the address to confirm: the organisation and the
password are chosen on the confirmation page, by whoever holds the link (issue 20).
Pending sign-ups made before this keep working: their link now asks for both.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pending_sign_ups") as batch:
        batch.drop_column("organisation")
        batch.drop_column("password_hash")


def downgrade() -> None:
    # The old code needs both; rows of the new kind cannot have them, so they go.
    op.execute("DELETE FROM pending_sign_ups")
    with op.batch_alter_table("pending_sign_ups") as batch:
        batch.add_column(sa.Column("organisation", sa.String(200), nullable=False))
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=False))
