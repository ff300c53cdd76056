"""Dataset pages: list, create, view, edit (name, description, artifact types) and
delete."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.permissions import needs
from relay.dashboard.web import (
    CheckedForm,
    CurrentUser,
    field,
    page_number,
    redirect,
    render,
    user_actor,
)
from relay.datasets import service as datasets_service
from relay.datasets.schemas import DatasetCreate, DatasetUpdate
from relay.datasets.service import Reach
from relay.db import SessionDep
from relay.errors import NotFoundError
from relay.tenants import roles

router = APIRouter(prefix="/datasets", include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # as the API's own bound
BLANK_ARTIFACT_ROWS = 3


def _artifact_rows(form: FormData) -> list[dict[str, Any]]:
    """The artifact type rows of the form (create and edit alike); rows ticked
    "Remove" (by their place in the form) or left without a name are skipped."""
    removed = set(form.getlist("artifact_remove"))
    rows = zip(
        form.getlist("artifact_name"),
        form.getlist("artifact_description"),
        form.getlist("artifact_color"),
        strict=False,
    )
    return [
        {"name": name, "description": description or None, "color": color or None}
        for place, (name, description, color) in enumerate(rows)
        if str(place) not in removed and isinstance(name, str) and name.strip()
    ]


TYPE_NAME_RULE = "Use a to z, 0 to 9 and _ only, up to 64 characters"
DATASET_FIELDS = {
    "name": FormField("name", "Name", noun="a name for the dataset"),
    "description": FormField("description", "Description"),
    "artifact_types": FormField(
        "artifact-types",
        "Artifact types",
        rewrites=(("must be unique", "Give each artifact type a different name"),),
    ),
    "artifact_types.*.name": FormField("artifact-name-*", "Type name", pattern_hint=TYPE_NAME_RULE),
    "artifact_types.*.description": FormField("artifact-description-*", "Type description"),
    "artifact_types.*.color": FormField(
        "artifact-color-*", "Colour", pattern_hint="Choose a colour"
    ),
}


def _page_number(request: Request) -> int:
    """`?page=N` as a link would carry it; anything else means the first page."""
    return page_number(request, MAX_PAGE)


@router.get("", dependencies=[needs(roles.VIEW)])
async def datasets_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    page = _page_number(request)
    # The total is the tenant's count row, not a count of its datasets.
    listed = await datasets_service.list_datasets(
        session, reach=Reach(user.tenant_id), page=page, page_size=PAGE_SIZE
    )
    last_page = max(1, -(-listed.total // PAGE_SIZE))
    context = {
        "datasets": listed.items,
        "total": listed.total,
        "page": page,
        "last_page": last_page,
        "first_shown": (page - 1) * PAGE_SIZE + 1,
    }
    return render(request, "datasets.html", context, user=user)


@router.get("/new", dependencies=[needs(roles.DATASETS)])
async def new_dataset_page(request: Request, user: CurrentUser) -> HTMLResponse:
    context: dict[str, Any] = {"values": {}, "rows": [{}] * BLANK_ARTIFACT_ROWS, "errors": {}}
    return render(request, "dataset_new.html", context, user=user)


@router.post("", dependencies=[needs(roles.DATASETS)])
async def create_dataset(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    values = {"name": field(form, "name"), "description": field(form, "description") or None}
    rows = _artifact_rows(form)
    try:
        data = DatasetCreate(**values, artifact_types=rows)
    except ValidationError as exc:
        context = {
            "values": values,
            "rows": rows or [{}],
            "errors": field_messages(exc, DATASET_FIELDS),
        }
        return render(request, "dataset_new.html", context, user=user, status_code=422)
    dataset = await datasets_service.create_dataset(
        session, reach=Reach(user.tenant_id), data=data, actor=user_actor(request, user)
    )
    return redirect(request, f"/datasets/{dataset.id}", flash=f"Dataset “{dataset.name}” created.")


async def _show_dataset(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dataset_id: uuid.UUID,
    *,
    sent: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The dataset's page: its edit form holds what was `sent` (beside `errors`, 422)
    or else what is stored; an unknown dataset goes back to the list."""
    try:
        dataset = await datasets_service.get_dataset(
            session, reach=Reach(user.tenant_id), dataset_id=dataset_id
        )
    except NotFoundError as exc:
        return redirect(request, "/datasets", error=exc.detail)
    values = sent or {"name": dataset.name, "description": dataset.description}
    rows = sent["artifact_types"] if sent else list(dataset.artifact_types)
    context = {
        "dataset": dataset,
        "values": values,
        # A blank row to add a type without JavaScript (with it, "Add another type").
        "rows": [*rows, {}],
        "errors": errors or {},
        "confirm_delete": not sent and request.query_params.get("delete") == "1",
    }
    return render(request, "dataset.html", context, user=user, status_code=422 if sent else 200)


@router.get("/{dataset_id}", dependencies=[needs(roles.VIEW)])
async def dataset_page(
    request: Request, session: SessionDep, user: CurrentUser, dataset_id: uuid.UUID
) -> Response:
    return await _show_dataset(request, session, user, dataset_id)


@router.post("/{dataset_id}", dependencies=[needs(roles.DATASETS)])
async def update_dataset(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dataset_id: uuid.UUID,
    form: CheckedForm,
) -> Response:
    """The edit form replaces what it shows: name, description and artifact types."""
    sent = {
        "name": field(form, "name"),
        "description": field(form, "description") or None,
        "artifact_types": _artifact_rows(form),
    }
    try:
        data = DatasetUpdate(**sent)
    except ValidationError as exc:
        # What was typed stays in the form, beside its message; nothing is saved.
        errors = field_messages(exc, DATASET_FIELDS)
        return await _show_dataset(request, session, user, dataset_id, sent=sent, errors=errors)
    try:
        dataset = await datasets_service.update_dataset(
            session, reach=Reach(user.tenant_id), dataset_id=dataset_id, data=data,
            actor=user_actor(request, user),
        )  # fmt: skip
    except NotFoundError as exc:
        return redirect(request, "/datasets", error=exc.detail)
    return redirect(request, f"/datasets/{dataset.id}", flash="Dataset saved.")


@router.post("/{dataset_id}/delete", dependencies=[needs(roles.DATASETS)])
async def delete_dataset(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dataset_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    try:
        deleted = await datasets_service.delete_dataset(
            session,
            reach=Reach(user.tenant_id),
            dataset_id=dataset_id,
            actor=user_actor(request, user),
        )
    except NotFoundError as exc:
        return redirect(request, "/datasets", error=exc.detail)
    return redirect(request, "/datasets", flash=f"Dataset “{deleted.name}” deleted.")
