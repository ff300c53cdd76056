"""`relayctl policy`: the organisation key policy. `show` needs api_keys:read; `set`
a full-access key, and changes only what it is given (it reads the policy and writes
it back whole, as the API takes it)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from relay_sdk.cli.connect import connect
from relay_sdk.cli.output import JsonOption, print_fields, print_json
from relay_sdk.cli.values import either
from relay_sdk.key_policy import KeyPolicy
from relay_sdk.operations import NOT_GIVEN

app = typer.Typer(help="Read and set the organisation key policy.", no_args_is_help=True)

FULL_ACCESS_CHOICES = ("allowed", "owners_only")


def _days(days: int | None, none: str) -> str:
    return none if days is None else f"{days} day{'s' if days != 1 else ''}"


def _show(policy: KeyPolicy, *, as_json: bool) -> None:
    if as_json:
        print_json(policy)
        return
    print_fields(
        [
            ("max lifetime", _days(policy.max_lifetime_days, "none")),
            ("expire unused after", _days(policy.expire_unused_after_days, "never")),
            ("full-access keys", policy.full_access_keys.replace("_", " ")),
        ]
    )


@app.command()
def show(as_json: JsonOption = False) -> None:
    """Show the key policy."""
    with connect() as relay:
        policy = relay.key_policy.get()
    _show(policy, as_json=as_json)


@app.command("set")
def set_policy(
    max_lifetime_days: Annotated[
        int | None,
        typer.Option(
            "--max-lifetime-days",
            min=1,
            max=3650,
            help="Keys expire at most this many days after they are made.",
        ),
    ] = None,
    no_max_lifetime: Annotated[
        bool, typer.Option("--no-max-lifetime", help="Keys may live as long as asked.")
    ] = False,
    expire_unused_after_days: Annotated[
        int | None,
        typer.Option(
            "--expire-unused-after-days",
            min=1,
            max=3650,
            help="A key unused this many days expires.",
        ),
    ] = None,
    never_expire_unused: Annotated[
        bool, typer.Option("--never-expire-unused", help="Unused keys do not expire.")
    ] = False,
    full_access_keys: Annotated[
        str | None,
        typer.Option(
            "--full-access-keys",
            help="allowed, or owners_only (keys made through the API must not reach everything).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change the key policy; what is not given stays. Keys made before keep their expiry."""
    if full_access_keys is not None and full_access_keys not in FULL_ACCESS_CHOICES:
        raise typer.BadParameter("--full-access-keys is allowed or owners_only")
    changes: dict[str, Any] = {
        "max_lifetime_days": either(
            max_lifetime_days, no_max_lifetime, "--max-lifetime-days", "--no-max-lifetime"
        ),
        "expire_unused_after_days": either(
            expire_unused_after_days,
            never_expire_unused,
            "--expire-unused-after-days",
            "--never-expire-unused",
        ),
        "full_access_keys": full_access_keys if full_access_keys is not None else NOT_GIVEN,
    }
    given = {name: value for name, value in changes.items() if value is not NOT_GIVEN}
    if not given:
        raise typer.BadParameter("nothing to change: give at least one option")
    with connect() as relay:
        current = relay.key_policy.get()
        policy = relay.key_policy.set(dataclasses.replace(current, **given))
    _show(policy, as_json=as_json)
