"""Request and response bodies of the dataset routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from relay.datasets.models import Dataset
from relay.pagination import Cursor
from relay.schemas import Input
from relay.text import StoredText

MAX_ARTIFACT_TYPES = 50

DatasetName = Annotated[str, StoredText.of(Dataset.name, min_length=1)]
# The column is unbounded text; 5,000 characters is the product's limit.
Description = Annotated[str, StoredText(max_length=5000, strip=False, single_line=False)]


class ArtifactType(Input):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$"), StoredText(max_length=64)
    ] = Field(examples=["bounding_box"])
    description: (
        Annotated[str, StoredText(max_length=500, strip=False, single_line=False)] | None
    ) = None
    color: (
        Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"), StoredText(max_length=7)]
        | None
    ) = Field(default=None, examples=["#3B82F6"])


def _unique_names(artifact_types: list[ArtifactType]) -> list[ArtifactType]:
    names = [artifact_type.name for artifact_type in artifact_types]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"artifact type names must be unique; repeated: {', '.join(duplicates)}")
    return artifact_types


ArtifactTypes = Annotated[
    list[ArtifactType], Field(max_length=MAX_ARTIFACT_TYPES), AfterValidator(_unique_names)
]


class DatasetCreate(Input):
    model_config = ConfigDict(extra="forbid")

    name: DatasetName
    description: Description | None = None
    artifact_types: ArtifactTypes = Field(default_factory=list)


class DatasetUpdate(Input):
    """A partial update: only the fields sent change; `description: null` clears it."""

    model_config = ConfigDict(extra="forbid")

    name: DatasetName | None = None
    description: Description | None = None
    artifact_types: ArtifactTypes | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> DatasetUpdate:
        for field in ("name", "artifact_types"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class DatasetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    artifact_types: list[ArtifactType]
    created_at: datetime
    updated_at: datetime


class DatasetPage(BaseModel):
    items: list[DatasetRead]
    total: int
    # The page number asked for; null when the page was asked for by `cursor`.
    page: int | None
    page_size: int
    # Pass it as `?cursor=` for the next page; null on the last page.
    next_cursor: str | None


class DatasetListQuery(Input):
    """The list's query string. A parameter it does not know is ignored."""

    page: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Page number; 1 when omitted."
    )
    page_size: int = Field(default=20, ge=1, le=100)
    cursor: Cursor | None = Field(
        default=None,
        description="A previous page's `next_cursor`: the page right after it, "
        "however deep, and stable while datasets are added or deleted. Not with `page`.",
    )
