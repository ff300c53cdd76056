"""The audit log's indexes end with the event id, so that a cursor page (keyset on
(at, id), as the datasets' list) is one index range however deep it is.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from relay.migrations.online import create_index_online, drop_index_online

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_online(
        "ix_audit_events_tenant_id_at_id", "audit_events", ["tenant_id", "at", "id"]
    )
    create_index_online(
        "ix_audit_events_tenant_id_action_at_id",
        "audit_events",
        ["tenant_id", "action", "at", "id"],
    )
    drop_index_online("ix_audit_events_tenant_id_at", "audit_events")
    drop_index_online("ix_audit_events_tenant_id_action_at", "audit_events")


def downgrade() -> None:
    create_index_online("ix_audit_events_tenant_id_at", "audit_events", ["tenant_id", "at"])
    create_index_online(
        "ix_audit_events_tenant_id_action_at", "audit_events", ["tenant_id", "action", "at"]
    )
    drop_index_online("ix_audit_events_tenant_id_at_id", "audit_events")
    drop_index_online("ix_audit_events_tenant_id_action_at_id", "audit_events")
