"""Schemathesis against Relay's own /openapi.json, every operation, with a valid key:
no 5xx, no response that breaks its own schema, no request that hangs.

RELAY_FUZZ_EXAMPLES sets the examples per operation (200 in `make test`, more in
`make fuzz`). Its findings, fixed, live on as regression tests: NUL in a name was a
500 on PostgreSQL (tests/test_errors.py), 401/413/429/503 were undeclared and
`scopes` looked open (tests/test_openapi.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from relay.config import Settings
from tests.live_server import LiveServer, run_server

EXAMPLES = int(os.environ.get("RELAY_FUZZ_EXAMPLES", "200"))


@pytest.fixture(scope="module")
def fuzzed_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """A real server: requests go over HTTP, as a client's would."""
    log_path = tmp_path_factory.mktemp("fuzz") / "relay-serve.log"
    # Schemathesis also checks that auth is enforced, so it sends bad keys on
    # purpose: lift the per-address limit for this server.
    env = {"RELAY_AUTH_FAILURE_LIMIT": str(10**9)}
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server, server.create_tenant()["api_key"]


def test_every_operation_survives_generated_input(
    fuzzed_server: tuple[LiveServer, str],
) -> None:
    server, key = fuzzed_server
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def survives(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=server.base_url,
                headers={"X-API-Key": key},
                timeout=10,
                # Some rules cannot be said in JSON Schema (an expiry in the future,
                # artifact type names unique in a dataset), so a schema-valid
                # request may rightly get 422.
                excluded_checks=[checks.positive_data_acceptance],
            )

        survives()
