"""The audit log: append-only events of a tenant (keys made, rotated, revoked and
refused, datasets made and deleted, sign-ins, members), readable, never editable."""
