"""Settings > Audit log: the tenant's events, newest first, filtered by action, actor, API
key and date, each action said in words."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relay.audit import service as audit
from relay.audit.actions import Action, in_words
from relay.dashboard.permissions import needs
from relay.dashboard.web import CurrentUser, page_number, render
from relay.db import SessionDep
from relay.tenants import roles

router = APIRouter(prefix="/settings", include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 10_000  # as the API's own bound


@dataclass(frozen=True, slots=True)
class _Filters:
    action: Action | None
    actor: str | None
    key_id: uuid.UUID | None
    since: datetime | None
    page: int
    # As the form shows them and the pager's links carry them: "" for no filter.
    shown: dict[str, str]


def _filters(request: Request, actors: list[str]) -> _Filters:
    """The filters a link or the form carries; anything unreadable is ignored, never a
    500. An actor counts only if it is one of `actors` (those the log holds)."""
    query = request.query_params
    action = next((a for a in Action if a.value == query.get("action")), None)
    actor = query.get("actor")
    if actor not in actors:
        actor = None
    key_id = None
    with contextlib.suppress(ValueError):
        key_id = uuid.UUID(query.get("key", ""))
    since = None
    raw_since = query.get("since", "")
    try:
        since = datetime.strptime(raw_since, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raw_since = ""
    shown = {
        "action": action.value if action else "",
        "actor": actor or "",
        "key": str(key_id) if key_id else "",
        "since": raw_since,
    }
    return _Filters(action, actor, key_id, since, page_number(request, MAX_PAGE), shown)


def actor_in_words(actor: str, keys: list[audit.SeenKey]) -> str:
    """Who an actor label names: a member's email, an API key by its name (as the
    events about the key give it), Relay itself, a leak report's sender."""
    kind, _, rest = actor.partition(":")
    if kind == "user" and rest:
        return rest
    if kind == "api_key" and rest:
        named = next((key.name for key in keys if key.name.endswith(f"({rest}…)")), None)
        return f"API key {named or rest + '…'}"
    if kind == "leak-report" and rest:
        return f"Leak report from {rest}"
    if actor == "system":
        return "Relay (system)"
    if actor == "anonymous":
        return "Someone not signed in"
    return actor


@router.get("/audit-log", dependencies=[needs(roles.VIEW)])
async def audit_log_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    actors = await audit.actors_seen(session, tenant_id=user.tenant_id)
    keys = await audit.keys_seen(session, tenant_id=user.tenant_id)
    filters = _filters(request, actors)
    listed = await audit.list_events(
        session,
        tenant_id=user.tenant_id,
        page=filters.page,
        page_size=PAGE_SIZE,
        action=filters.action,
        actor=filters.actor,
        key_id=filters.key_id,
        since=filters.since,
    )
    key_choices = [(key.id, key.name) for key in keys]
    if filters.shown["key"] and all(key.id != filters.shown["key"] for key in keys):
        # A well-formed id of a key no kept event is about (a link from an old key's
        # page): the answer is "none", said as such, not every event.
        key_choices.append((filters.shown["key"], "An API key with no events"))
    named_actors = {actor: actor_in_words(actor, keys) for actor in actors}
    context: dict[str, Any] = {
        "events": [
            (event, in_words(event.action), named_actors.get(event.actor, event.actor))
            for event in listed.items
        ],
        "actions": [(action.value, in_words(action)) for action in Action],
        "actors": sorted(named_actors.items(), key=lambda item: item[1].casefold()),
        "keys": key_choices,
        "filters": filters.shown,
        "filtered": any(filters.shown.values()),
        "page": filters.page,
        "has_more": listed.next_position is not None,
        "link_filters": {key: value for key, value in filters.shown.items() if value},
        "retention_days": request.app.state.settings.audit_retention_days,
    }
    return render(request, "audit_log.html", context, user=user)
