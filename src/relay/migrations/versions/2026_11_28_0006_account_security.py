"""Account security: sessions' last use (address, browser), pending sign-ins waiting
for a second factor, password reset links, TOTP and recovery codes, sign-ups waiting
for their email to be confirmed, and the tenant's two-factor requirement.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _user_id(table: str) -> sa.Column[object]:
    return sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey("users.id", name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"),
        nullable=False,
    )


def _token_table(table: str) -> None:
    """A table of single-use tokens of a user, stored as their SHA-256."""
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        _user_id(table),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{table}_token_hash")),
    )
    op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"])


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("client_address", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(200), nullable=True))
    # Sessions open during the upgrade count as last seen when they began.
    op.execute("UPDATE web_sessions SET last_seen_at = created_at")
    with op.batch_alter_table("web_sessions") as batch:
        batch.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    _token_table("pending_sign_ins")
    _token_table("password_reset_tokens")
    op.create_table(
        "two_factor",
        _user_id("two_factor"),
        sa.Column("secret", sa.String(200), nullable=False),
        _timestamp("enabled_at"),
        sa.Column("last_used_step", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        _user_id("recovery_codes"),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])
    op.create_table(
        "pending_sign_ups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_sign_ups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_sign_ups_token_hash")),
    )
    op.create_index(op.f("ix_pending_sign_ups_email"), "pending_sign_ups", ["email"])


def downgrade() -> None:
    op.drop_table("pending_sign_ups")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
    op.drop_table("password_reset_tokens")
    op.drop_table("pending_sign_ins")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("user_agent")
        batch.drop_column("client_address")
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("require_two_factor")
