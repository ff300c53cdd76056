"""Every field of every dashboard form, one at a time, under the shared hostile corpus
(tests/fuzz/corpus.py), with a valid CSRF token, from the poster the form is for
(signed in, signed out, or between password and code): the answer is never a 5xx,
nor a 429 (the limits are lifted: a 429 would mean the value stopped at a limit and
never reached the code), nor the end of the poster's session, nor a refusal by a
column (relay.db.StoredString, the last guard) of text the field's own rule should
have refused.

The forms are found, not listed by hand: the POST routes come from the app's route
table (a route without a base in FORMS fails the test), and the fields of each are
its base's plus every field its page is seen to read as it runs. Each fuzzed value
replaces one field of the base, whose other fields stay valid, so the value gets as
far as the field's own code. A form that reads no field is sent one probe to show it.

Every field gets every class of the corpus, and every form every value: field i of
a form of k fields gets the values i, i + k, ... of each class (at least one of each),
`corpus.share`. One- and two-field forms so get the whole corpus; the key form (17
fields) one or two values of each class a field: about 1,900 posts, where the whole
cross product was 4,800 and four times this test's time.

Sign-up, invitations and password resets take other paths when Relay mails: those
forms are fuzzed again on an app that mails, to a local SMTP server. The review's
instance: "İ" * 300 + "@example.com" as a sign-up email or an invited address was a
500 on PostgreSQL (600 characters once lowered); each form's first field gets each
class's first value, and the email is first where there is one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from relay.config import Settings
from relay.db import Database
from tests.dashboard.helpers import PASSWORD
from tests.fuzz.common import dashboard_routes
from tests.fuzz.conftest import FUZZ_ENDPOINT, running_app
from tests.fuzz.corpus import share
from tests.fuzz.forms import OWNER, PENDING, SECOND, SIGNED_OUT, Dashboard, Form, dashboard
from tests.mail_server import SENDER, MailServer

BOTH = ("plain", "mail")
LIMITS = {"rate_limit_requests": "100", "rate_limit_seconds": "60", "quota_requests": "1000",
          "quota_period": "day"}  # fmt: skip
DATASET = {"name": "Fuzz {n}", "description": "d", "artifact_name": ["box"],
           "artifact_description": ["d"], "artifact_color": ["#3B82F6"]}  # fmt: skip
RESTRICTIONS = {"datasets": "chosen", "dataset_id": ["{dataset}"], "more_dataset_ids": "",
                "allowed_ips": "10.0.0.0/8"}  # fmt: skip
WEBHOOK = {"url": FUZZ_ENDPOINT["url"], "events": FUZZ_ENDPOINT["events"]}
TWO_STEP = {"password": PASSWORD, "code": "000000"}
# What a form that reads no field is sent, in a field of no name it reads, to see that
# it reads none (storable text: the page runs past its form's checks).
PROBE = "İ" * 150
# Where a signed-in poster is sent once their session is gone, or when two-factor sign-in
# became required of them: the values after it would not reach the form.
SIGNED_OUT_TO = ("/login", "/settings/account/two-factor")

# fmt: off
FORMS: dict[str, Form] = {
    "/signup": Form({"email": "fuzz-{n}@example.com", "organisation": "Fuzz",
                     "password": PASSWORD}, SIGNED_OUT, apps=BOTH),
    "/signup/confirm/{token}": Form({"organisation": "Fuzz", "password": PASSWORD}, SIGNED_OUT,
                                    fresh=True),
    "/login": Form({"email": "{owner_email}", "password": PASSWORD}, SIGNED_OUT),
    "/login/two-factor": Form({"code": "000000"}, PENDING),
    "/forgot-password": Form({"email": "{owner_email}"}, SIGNED_OUT, apps=("mail",)),
    "/reset-password/{token}": Form({"password": PASSWORD}, SIGNED_OUT, fresh=True),
    "/invitations/{token}": Form({"password": PASSWORD}, SIGNED_OUT, fresh=True),
    "/datasets": Form(DATASET),
    "/datasets/{dataset_id}": Form(DATASET),
    "/datasets/{dataset_id}/delete": Form({}, fresh=True),
    "/settings/account/notices": Form({"notices": ["expiry"]}),
    "/settings/account/password": Form({"current_password": PASSWORD, "new_password": PASSWORD}),
    "/settings/account/sessions/end-others": Form({}),
    "/settings/account/sessions/{session_id}/end": Form({}),
    "/settings/account/two-factor": Form({"setup": "{setup}", **TWO_STEP}),
    "/settings/account/two-factor/disable": Form(TWO_STEP, SECOND),
    "/settings/account/two-factor/recovery-codes": Form(TWO_STEP, SECOND),
    "/settings/api-keys": Form(
        {"name": "Fuzz", "expiration": "custom", "expires_on": "2030-12-31",
         "access": "restricted", "scope_datasets": "write", "scope_api_keys": "read",
         "scope_audit": "read", "scope_webhooks": "read", **RESTRICTIONS, **LIMITS,
         "pool_id": "{pool}"}
    ),
    "/settings/api-keys/leaks/{notice_id}/dismiss": Form({}),
    "/settings/api-keys/{key_id}/end-grace": Form({}, fresh=True),
    "/settings/api-keys/{key_id}/limits": Form(LIMITS | {"pool_id": "{pool}"}),
    "/settings/api-keys/{key_id}/name": Form({"name": "Fuzz"}),
    "/settings/api-keys/{key_id}/narrow": Form({"scopes": "datasets:read"}),
    "/settings/api-keys/{key_id}/restrictions": Form(RESTRICTIONS),
    "/settings/api-keys/{key_id}/resume": Form({"back": "key"}, fresh=True),
    "/settings/api-keys/{key_id}/revoke": Form({}, fresh=True),
    "/settings/api-keys/{key_id}/roll": Form({"grace_period_seconds": "0"}, fresh=True),
    "/settings/api-keys/{key_id}/suspend": Form({"back": "key"}, fresh=True),
    "/settings/key-policy": Form(
        {"max_lifetime_days": "", "expire_unused_after_days": "", "full_access_keys": "allowed"}
    ),
    "/settings/limit-pools": Form({"name": "Fuzz {n}"} | LIMITS),
    "/settings/limit-pools/{pool_id}": Form({"name": "Fuzz {n}"} | LIMITS),
    "/settings/limit-pools/{pool_id}/delete": Form({}, fresh=True),
    "/settings/members": Form({"email": "fuzz-{n}@example.com", "role": "admin"}, apps=BOTH),
    "/settings/members/invitations/{invitation_id}/cancel": Form({}, fresh=True),
    "/settings/members/invitations/{invitation_id}/renew": Form({}, fresh=True, apps=BOTH),
    "/settings/members/ownership": Form({"member": "{member}", "password": PASSWORD}),
    "/settings/members/two-factor": Form({"require_two_factor": "on", "password": PASSWORD}),
    "/settings/members/{member_id}/remove": Form({}, fresh=True),
    "/settings/members/{member_id}/role": Form({"role": "admin"}),
    "/settings/notices/{notice_id}/dismiss": Form({}),
    "/settings/webhooks": Form(WEBHOOK),
    "/settings/webhooks/{endpoint_id}": Form(WEBHOOK),
    "/settings/webhooks/{endpoint_id}/delete": Form({}, fresh=True),
    "/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": Form({}),
    "/settings/webhooks/{endpoint_id}/enabled": Form({"enabled": "true"}),
}
# fmt: on


async def _post_base_again(board: Dashboard) -> None:
    route = "/settings/key-policy"
    await board.post(route, FORMS[route], board.base_of(FORMS[route]))


# What undoes a fuzzed value that was accepted, where the next posts need it undone: a
# changed password (the base's current one), a key policy (the key form's custom date),
# keys made (each would make the keys page longer to render).
RESTORE: dict[str, Callable[[Dashboard], Awaitable[None]]] = {
    "/settings/account/password": Dashboard.password_back,
    "/settings/key-policy": _post_base_again,
    "/settings/api-keys": Dashboard.keys_out_of_sight,
    "/settings/api-keys/{key_id}/roll": Dashboard.keys_out_of_sight,
}


async def fuzz_form(board: Dashboard, app_name: str, route: str) -> list[str]:
    """Each field of `route`'s form (the base's, then any the page was seen to read)
    with its share of the corpus; what went wrong."""
    form, failures = FORMS[route], []
    names = list(form.base) or ["unread"]
    for place, name in enumerate(names):  # grows as the page is seen to read more
        for value in [PROBE] if name == "unread" else share(place, len(form.base) or 1):
            fields = board.base_of(form)
            base = fields.get(name)
            fields[name] = [value, *base[1:]] if isinstance(base, list) and base else value
            sent = await board.post(route, form, fields)
            said = f"{app_name}: POST {route} {name}={value[:24]!r}: {sent.status}"
            if sent.status >= 500 or sent.status == 429:
                failures.append(said)
            elif sent.location in SIGNED_OUT_TO and form.who in (OWNER, SECOND):
                failures.append(f"{said}, signed out")
            elif sent.by_column:
                failures.append(f"{said}, refused by its column, not by its field's rule")
            if sent.status < 400 and route in RESTORE:
                await RESTORE[route](board)
            names += sorted(sent.read - set(names))
    return failures


@pytest.mark.usefixtures("quick_hashing")
async def test_every_form_field_survives_the_hostile_corpus(
    settings: Settings, db: Database, mail_server: MailServer
) -> None:
    routes = [path for method, path in dashboard_routes(settings) if method == "POST"]
    assert len(routes) >= 40
    assert sorted(set(routes) - set(FORMS)) == [], "give the fuzzer a base form for these"
    failures: list[str] = []
    mail = {"smtp_url": mail_server.url, "smtp_from": SENDER}
    for app_name, overrides in (("plain", {}), ("mail", mail)):
        async with running_app(settings, **overrides) as app, dashboard(app, db) as board:
            for route in routes:
                if app_name in FORMS[route].apps:
                    failures += await fuzz_form(board, app_name, route)
    assert failures == [], "\n".join(failures)
