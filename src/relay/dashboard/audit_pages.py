"""Settings > Audit log: the tenant's events, newest first, filtered by action and date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relay.audit import service as audit
from relay.audit.actions import Action
from relay.dashboard.web import CurrentUser, page_number, render
from relay.db import SessionDep

router = APIRouter(prefix="/settings", include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 10_000  # as the API's own bound


def _filters(request: Request) -> tuple[Action | None, datetime | None, int, dict[str, str]]:
    """The filters a link or the form carries; anything unreadable is ignored, never a 500."""
    query = request.query_params
    action = next((a for a in Action if a.value == query.get("action")), None)
    since = None
    raw_since = query.get("since", "")
    try:
        since = datetime.strptime(raw_since, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raw_since = ""
    page = page_number(request, MAX_PAGE)
    shown = {"action": action.value if action else "", "since": raw_since}
    return action, since, page, shown


@router.get("/audit-log")
async def audit_log_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    action, since, page, shown = _filters(request)
    listed = await audit.list_events(
        session,
        tenant_id=user.tenant_id,
        page=page,
        page_size=PAGE_SIZE,
        action=action,
        since=since,
    )
    links = {key: value for key, value in shown.items() if value}
    context: dict[str, Any] = {
        "events": listed.items,
        "actions": [a.value for a in Action],
        "filters": shown,
        "page": page,
        "has_more": listed.next_position is not None,
        "link_filters": links,
        "retention_days": request.app.state.settings.audit_retention_days,
    }
    return render(request, "audit_log.html", context, user=user)
