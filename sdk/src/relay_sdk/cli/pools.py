"""`relayctl pools`: the tenant's limit pools, a rate limit and a quota shared by the
keys in each (`relayctl keys create --pool ID`)."""

from __future__ import annotations

from typing import Annotated

import typer

from relay_sdk.cli.connect import connect
from relay_sdk.cli.keys import QuotaOption, RateLimitOption
from relay_sdk.cli.output import (
    Columns,
    JsonOption,
    format_time,
    print_done,
    print_fields,
    print_json,
    print_list,
)
from relay_sdk.cli.values import (
    either,
    format_quota,
    format_rate_limit,
    parse_quota,
    parse_rate_limit,
)
from relay_sdk.limit_pools import LimitPool
from relay_sdk.operations import NOT_GIVEN

app = typer.Typer(
    help="Create, list, show, update and delete limit pools: limits shared by several keys.",
    no_args_is_help=True,
)

PoolId = Annotated[str, typer.Argument(metavar="ID", help="The pool's id (pools list).")]

_COLUMNS = Columns[LimitPool](
    ["ID", "Name", "Rate limit", "Quota", "Keys", "Created (UTC)"],
    lambda pool: [
        pool.id, pool.name, format_rate_limit(pool.rate_limit), format_quota(pool.quota),
        str(pool.key_count), format_time(pool.created_at),
    ],
)  # fmt: skip


def _show(pool: LimitPool, *, as_json: bool) -> None:
    if as_json:
        print_json(pool)
        return
    print_fields(
        [
            ("id", pool.id),
            ("name", pool.name),
            ("rate limit", format_rate_limit(pool.rate_limit)),
            ("quota", format_quota(pool.quota)),
            ("keys", str(pool.key_count)),
            ("created (UTC)", format_time(pool.created_at)),
        ]
    )


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the pool is for.")],
    rate_limit: RateLimitOption = None,
    quota: QuotaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a pool; put keys in it with keys create/update --pool ID."""
    with connect() as relay:
        pool = relay.limit_pools.create(
            name,
            rate_limit=parse_rate_limit(rate_limit) if rate_limit else None,
            quota=parse_quota(quota) if quota else None,
        )
    _show(pool, as_json=as_json)


@app.command("list")
def list_pools(as_json: JsonOption = False) -> None:
    """List the pools, newest first."""
    with connect() as relay:
        pools = list(relay.limit_pools.iter())
    print_list(pools, _COLUMNS, as_json=as_json)


@app.command()
def get(pool_id: PoolId, as_json: JsonOption = False) -> None:
    """Show one pool: its limits, what is left of its quota, its number of keys."""
    with connect() as relay:
        pool = relay.limit_pools.get(pool_id)
    _show(pool, as_json=as_json)


@app.command()
def update(
    pool_id: PoolId,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    rate_limit: RateLimitOption = None,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Remove the pool's rate limit.")
    ] = False,
    quota: QuotaOption = None,
    no_quota: Annotated[bool, typer.Option("--no-quota", help="Remove the pool's quota.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rename a pool or change its limits; what is not given stays."""
    limit = either(
        parse_rate_limit(rate_limit) if rate_limit else None, no_rate_limit, "--rate-limit"
    )
    new_quota = either(parse_quota(quota) if quota else None, no_quota, "--quota")
    if name is None and limit is NOT_GIVEN and new_quota is NOT_GIVEN:
        raise typer.BadParameter(
            "nothing to change: give --name, --rate-limit or --quota (or what removes them)"
        )
    with connect() as relay:
        pool = relay.limit_pools.update(
            pool_id, name=NOT_GIVEN if name is None else name, rate_limit=limit, quota=new_quota
        )
    _show(pool, as_json=as_json)


@app.command()
def delete(pool_id: PoolId, as_json: JsonOption = False) -> None:
    """Delete a pool no key is in."""
    with connect() as relay:
        relay.limit_pools.delete(pool_id)
    print_done(f"Limit pool {pool_id} deleted.", {"id": pool_id, "deleted": True}, as_json=as_json)
