"""Settings > Key policy: the organisation's rules for every key (how long a key may
live, after how long unused it expires, who may make full-access keys), changed by
the owner and shown to every member, with the live keys made before the maximum
lifetime that it does not shorten. The rules and their audit event are
key_policy/service.py's, as for PUT /api/v1/key-policy; this page words them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render, user_actor
from relay.db import SessionDep
from relay.key_policy import service as key_policy
from relay.key_policy.schemas import MAX_POLICY_DAYS, KeyPolicyBody
from relay.tenants import roles
from relay.tenants.models import User

router = APIRouter(prefix="/settings/key-policy", include_in_schema=False)

KEY_POLICY = "/settings/key-policy"
# The page lists at most this many keys beyond the maximum lifetime, oldest first,
# and says how many there are in all.
LISTED_BEYOND = 100


def _days_field(element: str, label: str, empty: str) -> FormField:
    # Whatever pydantic found (not a number, a fraction, out of range, too long to
    # read), the person is told the one thing the field takes.
    wanted = (
        f"{label}: enter a whole number of days from 1 to {MAX_POLICY_DAYS}, "
        f"or leave it empty for {empty}"
    )
    return FormField(element, label, rewrites=tuple((said, wanted) for said in ("integer", "than")))


# The form's fields by the API's names (the form sends them by those names too), in
# page order.
FIELDS = {
    "max_lifetime_days": _days_field("policy-max-lifetime", "Maximum lifetime", "no maximum"),
    "expire_unused_after_days": _days_field(
        "policy-expire-unused", "Expire unused keys after", "never"
    ),
    "full_access_keys": FormField("policy-full-access", "Full-access keys"),
}


def _values_of_rules(rules: key_policy.Rules) -> dict[str, str]:
    """The form's fields as they show `rules`: an empty number means none."""
    return {
        "max_lifetime_days": str(rules.max_lifetime_days or ""),
        "expire_unused_after_days": str(rules.expire_unused_after_days or ""),
        "full_access_keys": rules.full_access_keys,
    }


def _values_of_form(form: FormData) -> dict[str, str]:
    return {name: field(form, name) for name in FIELDS}


def _rules_of_values(values: dict[str, str]) -> key_policy.Rules:
    """The rules the form asks for, by the API's own schema (ValidationError if not)."""
    body = KeyPolicyBody.model_validate(
        {name: value.strip() or None for name, value in values.items()}
    )
    return key_policy.Rules(**body.model_dump())


async def _key_policy_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rules = await key_policy.rules_of(session, user.tenant_id)
    beyond, beyond_count = await key_policy.beyond_policy(
        session, user.tenant_id, rules, limit=LISTED_BEYOND
    )
    context: dict[str, Any] = {
        "rules": rules,
        "may_change": roles.may(user.role, roles.POLICIES),
        "values": values or _values_of_rules(rules),
        "errors": errors or {},
        "max_days": MAX_POLICY_DAYS,
        "beyond": beyond,
        "beyond_count": beyond_count,
    }
    return render(request, "key_policy.html", context, user=user, status_code=status_code)


@router.get("", dependencies=[needs(roles.VIEW)])
async def key_policy_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    return await _key_policy_page(request, session, user)


@router.post("", dependencies=[needs(roles.POLICIES)])
async def set_key_policy(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Replace the policy (owners and admins; audited as key_policy.updated): it applies
    to keys made from now on and to the next sweep of unused keys."""
    values = _values_of_form(form)
    try:
        rules = _rules_of_values(values)
    except ValidationError as exc:
        errors = field_messages(exc, FIELDS)
        return await _key_policy_page(
            request, session, user, values=values, errors=errors, status_code=422
        )
    await key_policy.set_rules(
        session, tenant_id=user.tenant_id, rules=rules, actor=user_actor(request, user)
    )
    return redirect(request, KEY_POLICY, flash="Key policy saved.")
