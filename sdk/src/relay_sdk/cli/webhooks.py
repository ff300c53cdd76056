"""`relayctl webhooks`: the tenant's webhook endpoints (register, list, delete) and each
one's deliveries. The signing secret is printed once, by create."""

from __future__ import annotations

from typing import Annotated

import typer

from relay_sdk.cli.connect import connect
from relay_sdk.cli.output import (
    Columns,
    JsonOption,
    format_time,
    print_done,
    print_fields,
    print_json,
    print_list,
    print_note,
)
from relay_sdk.webhook_endpoints import CreatedWebhookEndpoint, WebhookDelivery, WebhookEndpoint

app = typer.Typer(
    help="Register, list and delete webhook endpoints, and read their deliveries.",
    no_args_is_help=True,
)

EndpointId = Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id (webhooks list).")]

_ENDPOINTS = Columns[WebhookEndpoint](
    ["ID", "URL", "Events", "Enabled", "Created (UTC)"],
    lambda endpoint: [
        endpoint.id, endpoint.url, ", ".join(endpoint.events),
        "yes" if endpoint.enabled else "no", format_time(endpoint.created_at),
    ],
)  # fmt: skip
_DELIVERIES = Columns[WebhookDelivery](
    ["ID", "Event", "Type", "Status", "Attempts", "Last answer", "Created (UTC)"],
    lambda delivery: [
        delivery.id, delivery.event_id, delivery.event_type, delivery.status,
        str(delivery.attempts), delivery.last_error or str(delivery.last_status_code or ""),
        format_time(delivery.created_at, seconds=True),
    ],
)  # fmt: skip


def _show_created(endpoint: CreatedWebhookEndpoint, *, as_json: bool) -> None:
    if as_json:
        print_json(endpoint)
        return
    print_fields(
        [
            ("id", endpoint.id),
            ("url", endpoint.url),
            ("events", ", ".join(endpoint.events)),
            ("secret", endpoint.secret),
        ]
    )
    print_note("The secret is shown this once: check each delivery's Relay-Signature with it.")


@app.command()
def create(
    url: Annotated[str, typer.Option("--url", help="Where events are POSTed (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            help="An event type to send (e.g. api_key.revoked); repeat for more. None: every event."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register an endpoint and print its signing secret: the only time it is shown."""
    with connect() as relay:
        created = relay.webhook_endpoints.create(url, event or ["*"])
    _show_created(created, as_json=as_json)


@app.command("list")
def list_endpoints(as_json: JsonOption = False) -> None:
    """List the endpoints, newest first (never their secrets)."""
    with connect() as relay:
        endpoints = list(relay.webhook_endpoints.iter())
    print_list(endpoints, _ENDPOINTS, as_json=as_json)


@app.command()
def delete(endpoint_id: EndpointId, as_json: JsonOption = False) -> None:
    """Delete an endpoint: nothing more is sent to it."""
    with connect() as relay:
        relay.webhook_endpoints.delete(endpoint_id)
    print_done(
        f"Webhook endpoint {endpoint_id} deleted.",
        {"id": endpoint_id, "deleted": True},
        as_json=as_json,
    )


@app.command()
def deliveries(endpoint_id: EndpointId, as_json: JsonOption = False) -> None:
    """List an endpoint's latest deliveries (a page, newest first)."""
    with connect() as relay:
        page = relay.webhook_endpoints.deliveries(endpoint_id)
    print_list(list(page.items), _DELIVERIES, as_json=as_json)
