"""The audit log's vocabulary: every action an event can record."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    API_KEY_CREATED = "api_key.created"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_EXPIRED_USE = "api_key.expired_use_refused"
    API_KEY_NEW_ADDRESS = "api_key.new_client_address"
    API_KEY_LEAKED = "api_key.leaked"
    DATASET_CREATED = "dataset.created"
    DATASET_DELETED = "dataset.deleted"
    USER_SIGNED_IN = "user.signed_in"
    USER_SIGN_IN_FAILED = "user.sign_in_failed"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_REMOVED = "member.removed"
