"""relay-sdk: the Python client of the Relay API.

from relay_sdk import Relay            # or AsyncRelay, the same with await

with Relay() as relay:                 # the key from RELAY_API_KEY
    dataset = relay.datasets.create("Street scenes")
    for key in relay.api_keys.list():
        print(key.name, key.key_prefix, key.expires_at)
"""

from relay_sdk.api_keys import (
    ApiKey,
    ApiKeyDetail,
    ApiKeyUsage,
    CreatedApiKey,
    KeyClient,
    KeyQuota,
    KeyQuotaStatus,
    ScopeUse,
    UsageDay,
)
from relay_sdk.audit_events import AuditEvent, AuditEventPage
from relay_sdk.client import AsyncRelay, Relay
from relay_sdk.datasets import ArtifactType, Dataset, DatasetPage
from relay_sdk.errors import (
    APIStatusError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    ValidationError,
)
from relay_sdk.key_policy import KeyPolicy
from relay_sdk.limit_pools import LimitPool, LimitPoolPage
from relay_sdk.operations import NOT_GIVEN
from relay_sdk.rate_limits import Quota, RateLimit, RateLimitStatus
from relay_sdk.webhook_endpoints import (
    CreatedWebhookEndpoint,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointPage,
)
from relay_sdk.webhooks import WebhookVerificationError

__all__ = [
    "NOT_GIVEN",
    "APIStatusError",
    "ApiKey",
    "ApiKeyDetail",
    "ApiKeyUsage",
    "ArtifactType",
    "AsyncRelay",
    "AuditEvent",
    "AuditEventPage",
    "AuthenticationError",
    "ConflictError",
    "CreatedApiKey",
    "CreatedWebhookEndpoint",
    "Dataset",
    "DatasetPage",
    "KeyClient",
    "KeyPolicy",
    "KeyQuota",
    "KeyQuotaStatus",
    "LimitPool",
    "LimitPoolPage",
    "NotFoundError",
    "PermissionDeniedError",
    "Quota",
    "RateLimit",
    "RateLimitError",
    "RateLimitStatus",
    "Relay",
    "RelayConnectionError",
    "RelayError",
    "ScopeUse",
    "UsageDay",
    "ValidationError",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookEndpoint",
    "WebhookEndpointPage",
    "WebhookVerificationError",
]
