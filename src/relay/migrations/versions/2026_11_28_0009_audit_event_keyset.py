"""The audit log's indexes end with the event id, so that a cursor page (keyset on
(at, id), as the datasets' list) is one index range however deep it is.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_tenant_id_at_id", "audit_events", ["tenant_id", "at", "id"])
    op.create_index(
        "ix_audit_events_tenant_id_action_at_id",
        "audit_events",
        ["tenant_id", "action", "at", "id"],
    )
    op.drop_index("ix_audit_events_tenant_id_at", table_name="audit_events")
    op.drop_index("ix_audit_events_tenant_id_action_at", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_tenant_id_at", "audit_events", ["tenant_id", "at"])
    op.create_index(
        "ix_audit_events_tenant_id_action_at", "audit_events", ["tenant_id", "action", "at"]
    )
    op.drop_index("ix_audit_events_tenant_id_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_tenant_id_action_at_id", table_name="audit_events")
