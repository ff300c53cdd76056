"""Imports every domain's models so that `Base.metadata` knows all tables."""

from relay.accounts.models import (
    LoginFailure,
    PasswordResetToken,
    PendingSignIn,
    PendingSignUp,
    RecoveryCode,
    TwoFactor,
    WebSession,
)
from relay.audit.models import AuditEvent
from relay.auth.models import (
    ApiKey,
    ApiKeyAddress,
    ApiKeyAddressRefusal,
    ApiKeyClient,
    ApiKeyNetwork,
    ApiKeyScopeUse,
    ApiKeyUsage,
)
from relay.datasets.models import Dataset, DatasetCount
from relay.key_policy.models import KeyPolicy
from relay.leaks.models import LeakNotice
from relay.limit_pools.models import LimitPool, PoolQuotaUsage
from relay.limits.models import QuotaUsage
from relay.notices.models import Notice, NoticeDelivery, NoticePreference
from relay.secret_key import ServerSecret
from relay.tenants.models import Invitation, Tenant, User
from relay.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiKey",
    "ApiKeyAddress",
    "ApiKeyAddressRefusal",
    "ApiKeyClient",
    "ApiKeyNetwork",
    "ApiKeyScopeUse",
    "ApiKeyUsage",
    "AuditEvent",
    "Dataset",
    "DatasetCount",
    "Invitation",
    "KeyPolicy",
    "LeakNotice",
    "LimitPool",
    "LoginFailure",
    "Notice",
    "NoticeDelivery",
    "NoticePreference",
    "PasswordResetToken",
    "PendingSignIn",
    "PendingSignUp",
    "PoolQuotaUsage",
    "QuotaUsage",
    "RecoveryCode",
    "ServerSecret",
    "Tenant",
    "TwoFactor",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
