"""Indexes for the audit log's actor and API key filters: the dashboard's lists of the
actors and keys a tenant's events name, and a page of the events of one actor or about
one key, newest first, are each one index range rather than a scan of every event.

Built concurrently on PostgreSQL (relay.migrations.online): writes go on meanwhile.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from relay.migrations.online import create_index_online, drop_index_online

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "ix_audit_events_tenant_id_actor_at_id"
KEY = "ix_audit_events_tenant_id_target_type_target_id_at_id"


def upgrade() -> None:
    create_index_online(ACTOR, "audit_events", ["tenant_id", "actor", "at", "id"])
    create_index_online(KEY, "audit_events", ["tenant_id", "target_type", "target_id", "at", "id"])


def downgrade() -> None:
    drop_index_online(KEY, "audit_events")
    drop_index_online(ACTOR, "audit_events")
