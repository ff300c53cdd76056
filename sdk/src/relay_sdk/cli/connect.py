"""The client every relayctl command uses: the key from RELAY_API_KEY, the server from
RELAY_BASE_URL; a missing or malformed key is an authentication failure, and the SDK's
warnings (a key with white space around it) are one line on stderr."""

from __future__ import annotations

import warnings

from relay_sdk.cli.output import CommandError, ExitCode, print_note
from relay_sdk.client import Relay


def connect() -> Relay:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = Relay()
        except ValueError as error:
            raise CommandError(str(error), ExitCode.AUTHENTICATION) from error
    for warning in caught:
        print_note(f"relayctl: warning: {warning.message}")
    return client
