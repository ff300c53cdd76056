"""relayctl, the command line of relay-sdk (Typer and Rich), as the console script `relayctl`."""

from relay_sdk.cli.app import app, main

__all__ = ["app", "main"]
