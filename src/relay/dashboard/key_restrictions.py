"""The datasets and addresses a key is limited to, as the dashboard's key forms offer
them (the create dialog, and the form on a key's own page): the datasets listed to
choose from, how the fields read, and their errors in plain words. The rules are the
API's own (relay.auth.schemas, relay.auth.restrictions): this module only words them.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from relay.auth import restrictions
from relay.auth.models import ApiKey
from relay.dashboard.form_errors import FormField
from relay.dashboard.web import field
from relay.datasets import service as datasets_service
from relay.datasets.service import Reach
from relay.errors import InvalidInput

# Element ids of the two fields, in page order; the same in the dialog and on a key's
# page (each page has one such form).
DATASETS = "key-datasets"
ALLOWED_IPS = "key-allowed-ips"
ORDER = (DATASETS, ALLOWED_IPS)
# A key reaches at most this many datasets, so a longer list would offer nothing more:
# a tenant with more sees its newest and gives others by id.
LISTED_DATASETS = restrictions.MAX_DATASET_IDS
NO_DATASET_CHOSEN = "Choose at least one dataset, or All datasets"
UNKNOWN_DATASET = (
    "A dataset chosen does not exist (deleted since, or its ID mistyped): choose again"
)
FIELDS = {
    "dataset_ids": FormField(
        DATASETS,
        "Datasets",
        rewrites=(("at most", f"Choose at most {restrictions.MAX_DATASET_IDS} datasets"),),
    ),
    "dataset_ids.*": FormField(
        DATASETS,
        "Datasets",
        rewrites=(("UUID", "Give each dataset by its ID, as its page shows it"),),
    ),
    "allowed_ips": FormField(
        ALLOWED_IPS,
        "Allowed addresses",
        rewrites=(
            ("at most", f"List at most {restrictions.MAX_ALLOWED_IPS} addresses or networks"),
        ),
    ),
    "allowed_ips.*": FormField(ALLOWED_IPS, "Allowed addresses"),
}
# What separates entries in a text field: one a line, as the hints say, but a list
# pasted with commas or spaces reads the same.
_SEPARATORS = re.compile(r"[\s,]+")
_ECHOED = 45  # characters of a refused entry quoted back


@dataclass(frozen=True)
class DatasetChoice:
    id: str
    name: str


@dataclass(frozen=True)
class DatasetChoices:
    """The tenant's datasets a form lists, by name: its newest LISTED_DATASETS and
    any already chosen; `more`: it has others, given by id in a field of their own."""

    listed: list[DatasetChoice]
    more: bool
    newest: ClassVar[int] = LISTED_DATASETS

    def named(self, ids: Iterable[str]) -> list[DatasetChoice]:
        """Those of `ids` that still exist, by name (a dataset deleted since is gone)."""
        wanted = set(ids)
        return [choice for choice in self.listed if choice.id in wanted]


def _canonical_ids(values: Iterable[str]) -> list[str]:
    """Ids as the database writes them; text that is not an id is left out."""
    found = []
    for value in values:
        try:
            found.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return found


async def dataset_choices(
    session: AsyncSession, *, tenant_id: uuid.UUID, chosen: Iterable[str]
) -> DatasetChoices:
    """What a form lists: the tenant's newest datasets, and those of `chosen` (a key's
    own, or ticked before an error) that still exist, wherever they are in the list."""
    newest = await datasets_service.list_datasets(
        session, reach=Reach(tenant_id), page_size=LISTED_DATASETS
    )
    rows = list(newest.items)
    listed_ids = {str(row["id"]) for row in rows}
    others = [dataset_id for dataset_id in _canonical_ids(chosen) if dataset_id not in listed_ids]
    if others:
        older = await datasets_service.list_datasets(
            session,
            reach=Reach(tenant_id, frozenset(uuid.UUID(value) for value in others)),
            page_size=LISTED_DATASETS,
        )
        rows += older.items
    listed = sorted(
        (DatasetChoice(str(row["id"]), row["name"]) for row in rows),
        key=lambda choice: (choice.name.casefold(), choice.id),
    )
    return DatasetChoices(listed, more=newest.next_position is not None)


def values_of_form(form: FormData) -> dict[str, Any]:
    """What the fields held, to show again after an error."""
    return {
        "datasets": "chosen" if field(form, "datasets") == "chosen" else "all",
        "dataset_id": _canonical_ids(v for v in form.getlist("dataset_id") if isinstance(v, str)),
        "more_dataset_ids": field(form, "more_dataset_ids"),
        "allowed_ips": field(form, "allowed_ips"),
    }


def values_of_key(api_key: ApiKey) -> dict[str, Any]:
    """The fields as the key's own limits fill them."""
    return {
        "datasets": "all" if api_key.dataset_ids is None else "chosen",
        "dataset_id": list(api_key.dataset_ids or []),
        "more_dataset_ids": "",
        "allowed_ips": "\n".join(api_key.allowed_ips or []),
    }


def _entries(text: str) -> list[str]:
    return [entry for entry in _SEPARATORS.split(text) if entry]


def _network_problem(entry: str) -> str | None:
    """What is wrong with one allowed address, in plain words; None when nothing is."""
    try:
        restrictions.parse_networks([entry])
    except ValueError:
        pass
    else:
        return None
    quoted = entry if len(entry) <= _ECHOED else entry[:_ECHOED] + "…"
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return (
            f"“{quoted}” is not an IP address or network: write one per line, like "
            "203.0.113.7 or 203.0.113.0/24"
        )
    # "10.0.0.1/8": an address inside the network, not the network's start.
    return f"“{quoted}” is not where its network starts: write {network}, or the address alone"


def read(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields (as values_of_form reads them) as ApiKeyCreate and ApiKeyUpdate take
    them, `dataset_ids` and `allowed_ips`, None meaning no limit; and what the form
    itself finds wrong, {element id: message}. Ids and networks are checked by the
    schema (its errors: FIELDS) and the service (refusal_of)."""
    errors: dict[str, str] = {}
    dataset_ids: list[str] | None = None
    if values["datasets"] == "chosen":
        ticked_and_typed = values["dataset_id"] + _entries(values["more_dataset_ids"])
        dataset_ids = list(dict.fromkeys(ticked_and_typed))
        if not dataset_ids:
            errors[DATASETS] = NO_DATASET_CHOSEN
            dataset_ids = None
    allowed_ips = _entries(values["allowed_ips"]) or None
    problem = next(filter(None, map(_network_problem, allowed_ips or [])), None)
    if problem:
        errors[ALLOWED_IPS] = problem
        allowed_ips = None
    return {"dataset_ids": dataset_ids, "allowed_ips": allowed_ips}, errors


def refusal_of(exc: InvalidInput) -> dict[str, str]:
    """The service's refusal of the fields, at the field: a dataset that is not the
    tenant's (deleted since the page was shown, or an id mistyped)."""
    if exc.loc[-1] != "dataset_ids":
        raise exc
    return {DATASETS: UNKNOWN_DATASET}


def describe(api_key: ApiKey) -> str:
    """ "2 datasets · 1 network", as the keys table shows a key's limits; "" for none.
    The datasets counted are those chosen, as the key names them."""
    parts = []
    if api_key.dataset_ids is not None:
        count = len(api_key.dataset_ids)
        parts.append(f"{count} dataset{'s' if count != 1 else ''}")
    if api_key.allowed_ips is not None:
        count = len(api_key.allowed_ips)
        parts.append(f"{count} network{'s' if count != 1 else ''}")
    return " · ".join(parts)
