"""The Python SDK: `from relay.sdk import Relay`; reads RELAY_API_KEY from the environment."""

from relay.sdk.client import (
    ApiKeys,
    AuthenticationError,
    Datasets,
    NotFoundError,
    Relay,
    RelayAPIError,
    RelayConnectionError,
)

__all__ = [
    "ApiKeys",
    "AuthenticationError",
    "Datasets",
    "NotFoundError",
    "Relay",
    "RelayAPIError",
    "RelayConnectionError",
]
