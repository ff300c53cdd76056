"""The organisation key policy (/api/v1/key-policy): the rules every key of the tenant is
made under. Reading it needs api_keys:read; setting it, a full-access key."""

from __future__ import annotations

from dataclasses import dataclass

from relay_sdk.models import parse_model, to_json
from relay_sdk.operations import Operation
from relay_sdk.resource import AsyncResource, SyncResource, async_call, sync_call


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """`max_lifetime_days`: a key made without an expiry gets the end of the UTC day that
    many days ahead, and a later one is refused (ValidationError). `expire_unused_after_days`:
    a key not used that long expires. `full_access_keys`: "allowed", or "owners_only" (a key
    made, rotated or widened through the API must not have every scope on every dataset).
    None: no such rule. A tenant that never set a policy has KeyPolicy(None, None,
    "allowed"). Every field is given: setting a policy replaces it whole."""

    max_lifetime_days: int | None
    expire_unused_after_days: int | None
    full_access_keys: str


def get_key_policy() -> Operation[KeyPolicy]:
    """The tenant's key policy (the defaults when none was set)."""
    return Operation("GET", "/key-policy", parse_model(KeyPolicy))


def set_key_policy(policy: KeyPolicy) -> Operation[KeyPolicy]:
    """Replace the tenant's key policy with `policy`, whole (a full-access key only:
    PermissionDeniedError otherwise). Keys made before keep their expiry."""
    return Operation("PUT", "/key-policy", parse_model(KeyPolicy), json=to_json(policy))


class KeyPolicies(SyncResource):
    """The organisation key policy: `get()`, `set(KeyPolicy(...))`."""

    get = sync_call(get_key_policy)
    set = sync_call(set_key_policy)


class AsyncKeyPolicies(AsyncResource):
    """The organisation key policy: `await get()`, `await set(KeyPolicy(...))`."""

    get = async_call(get_key_policy)
    set = async_call(set_key_policy)
