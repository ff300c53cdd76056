"""`relayctl datasets`: list, create, get and delete the tenant's datasets."""

from __future__ import annotations

from typing import Annotated

import typer

from relay_sdk.cli.connect import connect
from relay_sdk.cli.output import (
    AllOption,
    Columns,
    JsonOption,
    LimitOption,
    format_time,
    print_done,
    print_fields,
    print_json,
    print_newest,
)
from relay_sdk.datasets import MAX_PAGE_SIZE, ArtifactType, Dataset

app = typer.Typer(help="List, create, get and delete datasets.", no_args_is_help=True)

DatasetId = Annotated[str, typer.Argument(metavar="ID", help="The dataset's id (datasets list).")]


def parse_artifact_type(text: str) -> ArtifactType:
    """`bounding_box` or `bounding_box:#3B82F6`."""
    name, _, color = text.partition(":")
    return ArtifactType(name=name, color=color or None)


def _artifact_types(dataset: Dataset) -> str:
    return ", ".join(artifact.name for artifact in dataset.artifact_types)


_COLUMNS = Columns[Dataset](
    ["ID", "Name", "Artifact types", "Created (UTC)", "Updated (UTC)"],
    lambda d: [
        d.id, d.name, _artifact_types(d), format_time(d.created_at), format_time(d.updated_at)
    ],
)  # fmt: skip


@app.command("list")
def list_datasets(
    limit: LimitOption = 100, show_all: AllOption = False, as_json: JsonOption = False
) -> None:
    """List datasets, newest first."""
    with connect() as relay:
        every = relay.datasets.iter(page_size=MAX_PAGE_SIZE)
        print_newest(every, _COLUMNS, limit=limit, show_all=show_all, as_json=as_json)


def _show(dataset: Dataset, *, as_json: bool) -> None:
    if as_json:
        print_json(dataset)
        return
    print_fields(
        [
            ("id", dataset.id),
            ("name", dataset.name),
            ("description", dataset.description or ""),
            ("artifact types", _artifact_types(dataset)),
            ("created (UTC)", format_time(dataset.created_at)),
            ("updated (UTC)", format_time(dataset.updated_at)),
        ]
    )


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    description: Annotated[str | None, typer.Option(help="What it holds.")] = None,
    artifact_type: Annotated[
        list[str] | None,
        typer.Option(help="NAME or NAME:#RRGGBB, an annotation kind; repeat for more."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a dataset."""
    artifact_types = [parse_artifact_type(text) for text in artifact_type or ()]
    with connect() as relay:
        dataset = relay.datasets.create(
            name, description=description, artifact_types=artifact_types
        )
    _show(dataset, as_json=as_json)


@app.command()
def get(dataset_id: DatasetId, as_json: JsonOption = False) -> None:
    """Show one dataset."""
    with connect() as relay:
        dataset = relay.datasets.get(dataset_id)
    _show(dataset, as_json=as_json)


@app.command()
def delete(dataset_id: DatasetId, as_json: JsonOption = False) -> None:
    """Delete a dataset for good."""
    with connect() as relay:
        relay.datasets.delete(dataset_id)
    print_done(
        f"Deleted dataset {dataset_id}.", {"id": dataset_id, "deleted": True}, as_json=as_json
    )
