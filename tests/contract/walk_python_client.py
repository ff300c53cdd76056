"""The guide's walk through a Python client generated from /openapi.json by
openapi-python-client, as a newcomer would write it with the package `relay_client`.

Run by tests/contract/test_generated_clients.py, with the generated package on
PYTHONPATH, RELAY_BASE_URL and RELAY_API_KEY (a key of a tenant with no datasets);
prints "walked" at the end, and fails at the first answer that is not the guide's.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from relay_client import AuthenticatedClient
from relay_client.api.api_keys import (
    api_keys_create,
    api_keys_list,
    api_keys_revoke,
)
from relay_client.api.datasets import (
    datasets_create,
    datasets_delete,
    datasets_list,
    datasets_update,
)
from relay_client.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ArtifactType,
    DatasetCreate,
    DatasetPage,
    DatasetRead,
    DatasetUpdate,
    ErrorDetail,
)


def client(key: str) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=os.environ["RELAY_BASE_URL"], token=key, prefix="", auth_header_name="X-API-Key"
    )


def main() -> None:
    admin = client(os.environ["RELAY_API_KEY"])

    # Create a key: the full key is in this answer only.
    expires = datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
    created = api_keys_create.sync(
        client=admin, body=ApiKeyCreate(name="Production Server", expires_at=expires)
    )
    assert isinstance(created, ApiKeyCreated), created
    assert created.key.startswith(created.key_prefix)
    assert (created.scopes, created.expires_at) == ([], expires)

    # List keys: a bare array, never the key itself.
    listed = api_keys_list.sync(client=admin)
    assert isinstance(listed, list), listed
    assert created.id in [each.id for each in listed]
    assert not any(hasattr(each, "key") for each in listed)

    # Use the key: list datasets, create, patch, page with a cursor, delete.
    relay = client(created.key)
    empty = datasets_list.sync(client=relay)
    assert isinstance(empty, DatasetPage), empty
    assert empty.total == 0
    made = []
    for name in ("Street scenes", "Aerial", "Night drive"):
        body = DatasetCreate(name=name, artifact_types=[ArtifactType(name="bounding_box")])
        dataset = datasets_create.sync(client=relay, body=body)
        assert isinstance(dataset, DatasetRead), dataset
        made.append(dataset)
    renamed = datasets_update.sync(
        dataset_id=made[0].id, client=relay, body=DatasetUpdate(name="Renamed")
    )
    assert isinstance(renamed, DatasetRead), renamed
    assert renamed.name == "Renamed"
    first = datasets_list.sync(client=relay, page_size=2)
    assert isinstance(first, DatasetPage), first
    assert first.total == 3
    assert [each.id for each in first.items] == [made[2].id, made[1].id]  # newest first
    assert isinstance(first.next_cursor, str)
    second = datasets_list.sync(client=relay, cursor=first.next_cursor, page_size=2)
    assert isinstance(second, DatasetPage), second
    assert ([each.name for each in second.items], second.next_cursor) == (["Renamed"], None)
    deleted = datasets_delete.sync_detailed(dataset_id=made[2].id, client=relay)
    assert deleted.status_code == 204, deleted

    # Revoke the key: refused from the very next request, parsed as an error with its code.
    revoked = api_keys_revoke.sync_detailed(key_id=created.id, client=admin)
    assert revoked.status_code == 204, revoked
    refused = datasets_list.sync_detailed(client=relay)
    assert refused.status_code == 401, refused
    assert isinstance(refused.parsed, ErrorDetail), refused.parsed
    assert (refused.parsed.code, refused.parsed.detail) == (
        "invalid_api_key",
        "Invalid or missing API key",
    )
    print("walked")


if __name__ == "__main__":
    main()
