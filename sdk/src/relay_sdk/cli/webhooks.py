"""`relayctl webhooks`: the tenant's webhook endpoints (register, list, show, change,
pause, resume, delete), each one's deliveries, and sending a delivery's event again.
The signing secret is printed once, by create."""

from __future__ import annotations

from collections.abc import Sequence
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
from relay_sdk.operations import NOT_GIVEN, NotGiven
from relay_sdk.webhook_endpoints import CreatedWebhookEndpoint, WebhookDelivery, WebhookEndpoint

app = typer.Typer(
    help="Register, list, show, change, pause and delete webhook endpoints; read their "
    "deliveries and send one again.",
    no_args_is_help=True,
)

EndpointId = Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id (webhooks list).")]
DeliveryId = Annotated[
    str,
    typer.Argument(metavar="DELIVERY_ID", help="The delivery's id (webhooks deliveries ID)."),
]

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


def _enabled(endpoint: WebhookEndpoint) -> str:
    return "yes" if endpoint.enabled else "no (paused: nothing is sent)"


def _endpoint_fields(endpoint: WebhookEndpoint) -> list[tuple[str, str]]:
    return [
        ("id", endpoint.id),
        ("url", endpoint.url),
        ("events", ", ".join(endpoint.events)),
        ("enabled", _enabled(endpoint)),
        ("created (UTC)", format_time(endpoint.created_at)),
        ("updated (UTC)", format_time(endpoint.updated_at)),
    ]


def _show(endpoint: WebhookEndpoint, *, as_json: bool) -> None:
    if as_json:
        print_json(endpoint)
    else:
        print_fields(_endpoint_fields(endpoint))


def _show_created(endpoint: CreatedWebhookEndpoint, *, as_json: bool) -> None:
    if as_json:
        print_json(endpoint)
        return
    print_fields([*_endpoint_fields(endpoint), ("secret", endpoint.secret)])
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


@app.command()
def get(endpoint_id: EndpointId, as_json: JsonOption = False) -> None:
    """Show one endpoint (never its secret)."""
    with connect() as relay:
        endpoint = relay.webhook_endpoints.get(endpoint_id)
    _show(endpoint, as_json=as_json)


def _new_events(event: Sequence[str] | None, all_events: bool) -> list[str] | NotGiven:
    if event and all_events:
        raise typer.BadParameter("give --event or --all-events, not both")
    if all_events:
        return ["*"]
    return list(event) if event else NOT_GIVEN


def _new_enabled(pause: bool, resume: bool) -> bool | NotGiven:
    if pause and resume:
        raise typer.BadParameter("give --pause or --resume, not both")
    return resume if pause or resume else NOT_GIVEN


@app.command()
def update(
    endpoint_id: EndpointId,
    url: Annotated[str | None, typer.Option("--url", help="A new URL (http or https).")] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(help="Send only this event type (replacing the list); repeat for more."),
    ] = None,
    all_events: Annotated[bool, typer.Option("--all-events", help="Send every event.")] = False,
    pause: Annotated[
        bool,
        typer.Option(
            "--pause",
            help="Send nothing until resumed: events meanwhile are not sent to it, and "
            "deliveries still pending wait.",
        ),
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Send again, from the next event on.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Change an endpoint's URL or events, or pause and resume it.

    What is not given stays; the secret does not change."""
    events = _new_events(event, all_events)
    enabled = _new_enabled(pause, resume)
    if url is None and events is NOT_GIVEN and enabled is NOT_GIVEN:
        raise typer.BadParameter(
            "nothing to change: give --url, --event, --all-events, --pause or --resume"
        )
    with connect() as relay:
        endpoint = relay.webhook_endpoints.update(
            endpoint_id,
            url=NOT_GIVEN if url is None else url,
            events=events,
            enabled=enabled,
        )
    _show(endpoint, as_json=as_json)


@app.command()
def redeliver(
    endpoint_id: EndpointId, delivery_id: DeliveryId, as_json: JsonOption = False
) -> None:
    """Send a delivery's event again, as a new delivery (printed; sent within seconds).

    The first delivery stays as it was; the receiver gets the same event id again."""
    with connect() as relay:
        delivery = relay.webhook_endpoints.redeliver(endpoint_id, delivery_id)
    if as_json:
        print_json(delivery)
        return
    print_fields(
        [
            ("id", delivery.id),
            ("event", delivery.event_id),
            ("type", delivery.event_type),
            ("status", delivery.status),
            ("created (UTC)", format_time(delivery.created_at, seconds=True)),
        ]
    )
    print_note("Sent again as this new delivery: `webhooks deliveries` shows how it went.")
