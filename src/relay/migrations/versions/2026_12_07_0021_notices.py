"""Notices (see relay/notices): what happened (`notices`, unique per event), its mail
to each owner and admin (`notice_deliveries`), and the kinds each user wants by mail
(`notice_preferences`).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _references(table: str, column: str, other: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{other}.id"], name=op.f(f"fk_{table}_{column}_{other}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("mark", sa.String(10), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("key_label", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True)),
        _references("notices", "tenant_id", "tenants"),
        _references("notices", "key_id", "api_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("kind", "subject_id", "mark", "period", name="uq_notices_event"),
    )
    op.create_index(op.f("ix_notices_tenant_id"), "notices", ["tenant_id"])
    op.create_index("ix_notices_tenant_id_created_at", "notices", ["tenant_id", "created_at"])
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_id", sa.Uuid()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _references("notice_deliveries", "tenant_id", "tenants"),
        _references("notice_deliveries", "notice_id", "notices"),
        _references("notice_deliveries", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("notice_id", "user_id", name="uq_notice_deliveries_notice_id"),
    )
    op.create_index(op.f("ix_notice_deliveries_tenant_id"), "notice_deliveries", ["tenant_id"])
    op.create_index(
        "ix_notice_deliveries_status_next_attempt_at",
        "notice_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "notice_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expiry", sa.Boolean(), nullable=False),
        sa.Column("leak", sa.Boolean(), nullable=False),
        sa.Column("quota", sa.Boolean(), nullable=False),
        _references("notice_preferences", "user_id", "users"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notice_preferences")),
    )


def downgrade() -> None:
    op.drop_table("notice_preferences")
    op.drop_table("notice_deliveries")
    op.drop_table("notices")
