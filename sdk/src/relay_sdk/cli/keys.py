"""`relayctl keys`: create, list, get, update, rotate and revoke the tenant's API keys,
and show a key's usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from relay_sdk.api_keys import CreatedApiKey
from relay_sdk.cli.connect import connect
from relay_sdk.cli.key_views import KEY_COLUMNS, show_key, show_key_detail
from relay_sdk.cli.output import (
    JsonOption,
    print_done,
    print_json,
    print_line,
    print_list,
    print_note,
    print_table,
)
from relay_sdk.cli.values import (
    UNTIL_QUIET,
    either,
    parse_duration,
    parse_expiry,
    parse_grace,
    parse_quota,
    parse_rate_limit,
)
from relay_sdk.operations import NOT_GIVEN

app = typer.Typer(
    help="Create, list, show, update, rotate and revoke API keys; show their usage.",
    no_args_is_help=True,
)

KeyId = Annotated[str, typer.Argument(metavar="ID", help="The key's id (keys list).")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print the new key alone, for $(...).")
]
RateLimitOption = Annotated[
    str | None,
    typer.Option(
        "--rate-limit", metavar="N/WINDOW", help="At most N requests per window: 600/60s, 1000/1h."
    ),
]
QuotaOption = Annotated[
    str | None,
    typer.Option(
        "--quota",
        metavar="N/PERIOD",
        help="At most N requests a day, a month or ever: 1000/day, 50000/month, 100/none.",
    ),
]
DatasetOption = Annotated[
    list[str] | None,
    typer.Option("--dataset", metavar="ID", help="Limit the key to this dataset; repeat for more."),
]
AllowIpOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-ip",
        metavar="NETWORK",
        help="Let the key be used only from this address or network (203.0.113.0/24); "
        "repeat for more.",
    ),
]
PoolOption = Annotated[
    str | None,
    typer.Option("--pool", metavar="ID", help="Count the key in this limit pool too (pools list)."),
]
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    if expires_in and expires_at:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    if expires_in:
        return datetime.now(UTC) + parse_duration(expires_in)
    return parse_expiry(expires_at) if expires_at else None


def _refuse_quiet_json(quiet: bool, as_json: bool) -> None:
    if quiet and as_json:
        raise typer.BadParameter("give --quiet or --json, not both")


def _print_new_key(created: CreatedApiKey, *, quiet: bool, as_json: bool) -> None:
    """The new key, printed this once: alone with --quiet, in the JSON with --json."""
    if quiet:
        print_line(created.key)
        return
    show_key(created, as_json=as_json)
    if not as_json:
        print_line(created.key)
        print_note("Store the key now: it is not shown again.")


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime: 30m, 12h, 90d or 2w.", show_default=False)
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(help="ISO 8601 date or time; a date alone means its end (UTC)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Limit the key to this scope (e.g. datasets:read); repeat for more."),
    ] = None,
    rate_limit: RateLimitOption = None,
    quota: QuotaOption = None,
    dataset: DatasetOption = None,
    allow_ip: AllowIpOption = None,
    pool: PoolOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it: the only time it is shown."""
    _refuse_quiet_json(quiet, as_json)
    expiry = _expiry(expires_in, expires_at)
    limit = parse_rate_limit(rate_limit) if rate_limit else None
    with connect() as relay:
        created = relay.api_keys.create(
            name,
            expires_at=expiry,
            scopes=scope or (),
            rate_limit=limit,
            quota=parse_quota(quota) if quota else None,
            dataset_ids=dataset,
            allowed_ips=allow_ip,
            pool_id=pool,
        )
    _print_new_key(created, quiet=quiet, as_json=as_json)


@app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List the keys that are not revoked, newest first (never the keys themselves)."""
    with connect() as relay:
        api_keys = relay.api_keys.list()
    print_list(api_keys, KEY_COLUMNS, as_json=as_json)


@app.command()
def get(key_id: KeyId, as_json: JsonOption = False) -> None:
    """Show one key (never the key itself), who used it and the scopes it needed.

    Its clients of the last 24 hours, the scopes needed in 30 days, and fewer that would do."""
    with connect() as relay:
        key = relay.api_keys.get(key_id)
    show_key_detail(key, as_json=as_json)


@app.command()
def update(
    key_id: KeyId,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    rate_limit: RateLimitOption = None,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Remove the key's rate limit.")
    ] = False,
    quota: QuotaOption = None,
    no_quota: Annotated[bool, typer.Option("--no-quota", help="Remove the key's quota.")] = False,
    dataset: DatasetOption = None,
    all_datasets: Annotated[
        bool, typer.Option("--all-datasets", help="Let the key reach every dataset.")
    ] = False,
    allow_ip: AllowIpOption = None,
    anywhere: Annotated[
        bool, typer.Option("--anywhere", help="Let the key be used from any address.")
    ] = False,
    pool: PoolOption = None,
    no_pool: Annotated[
        bool, typer.Option("--no-pool", help="Take the key out of its pool.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Rename a key; set or remove its rate limit, quota, datasets, addresses or pool.

    What is not given stays."""
    limit = either(
        parse_rate_limit(rate_limit) if rate_limit else None, no_rate_limit, "--rate-limit"
    )
    datasets = either(dataset, all_datasets, "--dataset", "--all-datasets")
    new_quota = either(parse_quota(quota) if quota else None, no_quota, "--quota")
    networks = either(allow_ip, anywhere, "--allow-ip", "--anywhere")
    pool_id = either(pool, no_pool, "--pool")
    changes = (limit, new_quota, datasets, networks, pool_id)
    if name is None and all(change is NOT_GIVEN for change in changes):
        raise typer.BadParameter(
            "nothing to change: give --name, --rate-limit, --quota, --dataset, --allow-ip "
            "or --pool (or what removes them)"
        )
    with connect() as relay:
        key = relay.api_keys.update(
            key_id,
            name=NOT_GIVEN if name is None else name,
            rate_limit=limit,
            quota=new_quota,
            dataset_ids=datasets,
            allowed_ips=networks,
            pool_id=pool_id,
        )
    show_key(key, as_json=as_json)


@app.command()
def rotate(
    key_id: KeyId,
    grace: Annotated[
        str | None,
        typer.Option(
            help="How long the old key keeps working, 0s to 7d, or until_quiet: until it has "
            "gone 15 minutes without a request (at most 7d). The server's default is 1h.",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Replace a key with a new one, printed once.

    The new key has the old one's name, scopes, rate limit and expiry.

    The old key keeps working for the grace period, never past its own expiry."""
    _refuse_quiet_json(quiet, as_json)
    grace_period = NOT_GIVEN if grace is None else parse_grace(grace)
    with connect() as relay:
        rotated = relay.api_keys.rotate(key_id, grace_period_seconds=grace_period)
    _print_new_key(rotated, quiet=quiet, as_json=as_json)
    if quiet or as_json:
        return
    if grace_period == 0:
        print_note("The old key is refused from now on.")
    elif grace_period == UNTIL_QUIET:
        print_note(
            "The old key keeps working until it has gone 15 minutes without a request "
            "(at most 7 days, never past its own expiry): `relayctl keys get` on it shows "
            "who still uses it."
        )
    else:
        print_note(f"The old key keeps working for {grace or '1h'} (never past its own expiry).")


@app.command()
def revoke(key_id: KeyId, as_json: JsonOption = False) -> None:
    """Revoke a key for good: it is refused from the very next request."""
    with connect() as relay:
        relay.api_keys.revoke(key_id)
    print_done(f"Revoked key {key_id}.", {"id": key_id, "revoked": True}, as_json=as_json)


@app.command()
def suspend(key_id: KeyId, as_json: JsonOption = False) -> None:
    """Suspend a key: it is refused ("API key disabled") from its next request until resumed."""
    with connect() as relay:
        key = relay.api_keys.update(key_id, disabled=True)
    show_key(key, as_json=as_json)


@app.command()
def resume(key_id: KeyId, as_json: JsonOption = False) -> None:
    """Resume a suspended key: it works again from its next request."""
    with connect() as relay:
        key = relay.api_keys.update(key_id, disabled=False)
    show_key(key, as_json=as_json)


@app.command()
def usage(
    key_id: KeyId,
    days: Annotated[int, typer.Option(min=1, max=90, help="How many days, today included.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Requests made with a key per UTC day and status class, oldest day first."""
    with connect() as relay:
        key_usage = relay.api_keys.usage(key_id, days=days)
    if as_json:
        print_json(key_usage)
        return
    rows = (
        [day.date.isoformat(), str(day.total)]
        + [str(day.by_status.get(status, 0)) for status in STATUS_CLASSES]
        for day in key_usage.days
    )
    print_table(["Day (UTC)", "Total", *STATUS_CLASSES], rows, uncut=("Day (UTC)",))
