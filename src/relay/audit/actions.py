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
    API_KEY_DISABLED = "api_key.disabled"
    API_KEY_ENABLED = "api_key.enabled"
    API_KEY_ADDRESS_REFUSED = "api_key.address_refused"
    API_KEY_EXPIRED_UNUSED = "api_key.expired_unused"
    KEY_POLICY_UPDATED = "key_policy.updated"
    LIMIT_POOL_CREATED = "limit_pool.created"
    LIMIT_POOL_UPDATED = "limit_pool.updated"
    LIMIT_POOL_DELETED = "limit_pool.deleted"
    DATASET_CREATED = "dataset.created"
    DATASET_DELETED = "dataset.deleted"
    DATASET_UPDATED = "dataset.updated"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    USER_SIGNED_IN = "user.signed_in"
    USER_SIGN_IN_FAILED = "user.sign_in_failed"
    # Actions' names, not passwords (S105).
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105
    USER_PASSWORD_RESET_LINK_CREATED = "user.password_reset_link_created"  # noqa: S105
    USER_SESSION_ENDED = "user.session_ended"
    USER_TWO_FACTOR_ENABLED = "user.two_factor_enabled"
    USER_TWO_FACTOR_DISABLED = "user.two_factor_disabled"
    USER_RECOVERY_CODE_USED = "user.recovery_code_used"
    USER_RECOVERY_CODES_REPLACED = "user.recovery_codes_replaced"
    TENANT_TWO_FACTOR_REQUIRED = "tenant.two_factor_required"
    TENANT_TWO_FACTOR_NOT_REQUIRED = "tenant.two_factor_not_required"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_REMOVED = "member.removed"
    MEMBER_INVITATION_RENEWED = "member.invitation_renewed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    OWNERSHIP_TRANSFERRED = "tenant.ownership_transferred"
    API_KEY_NEW_NETWORK = "api_key.new_network"
    API_KEY_GRACE_ENDED = "api_key.grace_ended"
    API_KEY_SCOPES_NARROWED = "api_key.scopes_narrowed"
    API_KEY_EXPIRING = "api_key.expiring"
    API_KEY_EXPIRED = "api_key.expired"
    API_KEY_QUOTA_WARNING = "api_key.quota_warning"
    API_KEY_QUOTA_EXHAUSTED = "api_key.quota_exhausted"


# What the dashboard shows for each action; the API keeps the codes. A test fails for an
# action missing here.
WORDS: dict[Action, str] = {
    Action.API_KEY_CREATED: "API key created",
    Action.API_KEY_ROTATED: "API key rotated",
    Action.API_KEY_REVOKED: "API key revoked",
    Action.API_KEY_UPDATED: "API key changed",
    Action.API_KEY_EXPIRED_USE: "Expired API key refused",
    Action.API_KEY_NEW_ADDRESS: "API key used from a new address",
    Action.API_KEY_LEAKED: "Leaked API key revoked",
    Action.API_KEY_DISABLED: "API key suspended",
    Action.API_KEY_ENABLED: "API key resumed",
    Action.API_KEY_ADDRESS_REFUSED: "API key refused from an address it may not use",
    Action.API_KEY_EXPIRED_UNUSED: "Unused API key expired",
    Action.KEY_POLICY_UPDATED: "Key policy changed",
    Action.LIMIT_POOL_CREATED: "Limit pool created",
    Action.LIMIT_POOL_UPDATED: "Limit pool changed",
    Action.LIMIT_POOL_DELETED: "Limit pool deleted",
    Action.DATASET_CREATED: "Dataset created",
    Action.DATASET_DELETED: "Dataset deleted",
    Action.DATASET_UPDATED: "Dataset changed",
    Action.WEBHOOK_ENDPOINT_CREATED: "Webhook endpoint added",
    Action.WEBHOOK_ENDPOINT_UPDATED: "Webhook endpoint changed",
    Action.WEBHOOK_ENDPOINT_DELETED: "Webhook endpoint deleted",
    Action.USER_SIGNED_IN: "Signed in",
    Action.USER_SIGN_IN_FAILED: "Sign-in failed",
    Action.USER_PASSWORD_CHANGED: "Password changed",
    Action.USER_PASSWORD_RESET: "Password reset",
    Action.USER_PASSWORD_RESET_LINK_CREATED: "Password reset link created",
    Action.USER_SESSION_ENDED: "Session ended",
    Action.USER_TWO_FACTOR_ENABLED: "Two-factor sign-in turned on",
    Action.USER_TWO_FACTOR_DISABLED: "Two-factor sign-in turned off",
    Action.USER_RECOVERY_CODE_USED: "Recovery code used",
    Action.USER_RECOVERY_CODES_REPLACED: "Recovery codes replaced",
    Action.TENANT_TWO_FACTOR_REQUIRED: "Two-factor sign-in required for everyone",
    Action.TENANT_TWO_FACTOR_NOT_REQUIRED: "Two-factor sign-in no longer required",
    Action.MEMBER_INVITED: "Member invited",
    Action.MEMBER_JOINED: "Member joined",
    Action.MEMBER_REMOVED: "Member removed",
    Action.MEMBER_INVITATION_RENEWED: "Invitation link renewed",
    Action.MEMBER_ROLE_CHANGED: "Member's role changed",
    Action.OWNERSHIP_TRANSFERRED: "Ownership handed over",
    Action.API_KEY_NEW_NETWORK: "API key used from a new network",
    Action.API_KEY_GRACE_ENDED: "Old API key's grace ended",
    Action.API_KEY_SCOPES_NARROWED: "API key narrowed to the scopes it uses",
    Action.API_KEY_EXPIRING: "API key expires soon",
    Action.API_KEY_EXPIRED: "API key expired",
    Action.API_KEY_QUOTA_WARNING: "API key used 80 % of its quota",
    Action.API_KEY_QUOTA_EXHAUSTED: "API key used all of its quota",
}


def in_words(code: str) -> str:
    """What an event's action code says in words; the code itself for one Relay no
    longer records (an event kept from an older version)."""
    try:
        return WORDS[Action(code)]
    except (ValueError, KeyError):
        return code
