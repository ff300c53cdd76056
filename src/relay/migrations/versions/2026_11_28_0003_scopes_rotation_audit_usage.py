"""Keys: rate limits and rotation; the audit log; usage per key and day; the client
addresses each key was used from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_id(table: str) -> sa.Column[object]:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"),
        nullable=False,
    )


def _key_id(table: str) -> sa.Column[object]:
    return sa.Column(
        "key_id",
        sa.Uuid(),
        sa.ForeignKey("api_keys.id", name=op.f(f"fk_{table}_key_id_api_keys"), ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_limit_requests", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rate_limit_seconds", sa.Integer(), nullable=True))
        batch.add_column(_timestamp("rotated_at", nullable=True))
        batch.add_column(sa.Column("replaced_by_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_keys_replaced_by_id_api_keys"),
            "api_keys",
            ["replaced_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant_id("audit_events"),
        _timestamp("at"),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(340), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.Column("target_type", sa.String(20), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("target_name", sa.String(340), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_tenant_id"), "audit_events", ["tenant_id"])
    op.create_index("ix_audit_events_tenant_id_at", "audit_events", ["tenant_id", "at"])
    op.create_index(
        "ix_audit_events_tenant_id_action_at", "audit_events", ["tenant_id", "action", "at"]
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_table(
        "api_key_usage",
        _tenant_id("api_key_usage"),
        _key_id("api_key_usage"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status_class", sa.String(3), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "day", "status_class", name=op.f("pk_api_key_usage")),
    )
    op.create_index(op.f("ix_api_key_usage_tenant_id"), "api_key_usage", ["tenant_id"])
    op.create_table(
        "api_key_addresses",
        _tenant_id("api_key_addresses"),
        _key_id("api_key_addresses"),
        sa.Column("address", sa.String(64), nullable=False),
        _timestamp("first_seen"),
        sa.PrimaryKeyConstraint("key_id", "address", name=op.f("pk_api_key_addresses")),
    )
    op.create_index(op.f("ix_api_key_addresses_tenant_id"), "api_key_addresses", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("api_key_addresses")
    op.drop_table("api_key_usage")
    op.drop_table("audit_events")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_replaced_by_id_api_keys"), type_="foreignkey")
        batch.drop_column("replaced_by_id")
        batch.drop_column("rotated_at")
        batch.drop_column("rate_limit_seconds")
        batch.drop_column("rate_limit_requests")
