"""When a use of a key from an address outside its `allowed_ips` was last audited, per
key and address (`api_key_address_refusals`): every worker and server audits such
refusals at most once a minute per pair. A new table: online.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "api_key_address_refusals"


def _cascading(column: str, parent: str) -> sa.Column[object]:
    """A NOT NULL reference to `parent`'s id whose rows take this table's with them."""
    name = op.f(f"fk_{TABLE}_{column}_{parent}")
    reference = sa.ForeignKey(f"{parent}.id", name=name, ondelete="CASCADE")
    return sa.Column(column, sa.Uuid(), reference, nullable=False)


def upgrade() -> None:
    op.create_table(
        TABLE,
        _cascading("tenant_id", "tenants"),
        _cascading("key_id", "api_keys"),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quiet_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "address", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_tenant_id"), TABLE, ["tenant_id"])


def downgrade() -> None:
    op.drop_table(TABLE)
