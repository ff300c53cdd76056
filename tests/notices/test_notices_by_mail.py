"""Owners and admins hear by mail, once, when a key will expire (7 days and 1 day
before), when a leaked key was revoked, and when a quota reaches 80 % and 100 %;
developers and viewers do not, nor anyone who turned that kind off. Real SMTP
receiver; the sweep and the sender are called directly, or woken by the commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from relay.app import create_app
from relay.audit.models import AuditEvent
from relay.auth.activity import KeyActivity
from relay.auth.principal import Principal
from relay.config import Settings
from relay.db import Database, utcnow
from relay.limits.quotas import Quota, QuotaLedger
from relay.notices.models import NoticeDelivery
from tests.accounts.helpers import signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import post_form
from tests.leaks.reporter import Reporter
from tests.mail_server import MailServer, body_of
from tests.notices.helpers import mail_settings, make_key, make_organisation, notice_turn

ACCOUNT = "/settings/account"


@pytest.fixture
def with_mail(settings: Settings, mail_server: MailServer) -> Settings:
    return mail_settings(settings, mail_server)


async def actions(db: Database, action: str) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def test_a_key_expiring_in_6_days_mails_owners_and_admins_once_then_again_a_day_before(
    db: Database, with_mail: Settings, mail_server: MailServer
) -> None:
    org = await make_organisation(db)
    other = await make_organisation(db)
    expires_at = utcnow() + timedelta(days=6)
    key_id, prefix = await make_key(db, org.tenant_id, expires_at=expires_at)

    assert await notice_turn(db, with_mail) == 2

    inbox = mail_server.inbox
    for email in (org.owner, org.admin):
        mail = inbox.wait_for(email)
        assert mail["Subject"] == f"Relay: API key Deploy bot ({prefix}…) expires in 7 days"
        body = body_of(mail)
        assert f"Deploy bot ({prefix}…)" in body
        assert "of Acme" in body
        assert f"{expires_at:%Y-%m-%d at %H:%M} UTC" in body
        assert "roll the key" in body
        assert f"/settings/api-keys/{key_id}" in body
    for email in (org.developer, org.viewer, other.owner, other.admin):
        assert inbox.to(email) == []
    assert await actions(db, "api_key.expiring") == 1

    assert await notice_turn(db, with_mail) == 0  # the same mark: nothing more
    assert len(inbox.to(org.owner)) == len(inbox.to(org.admin)) == 1

    assert await notice_turn(db, with_mail, now=expires_at - timedelta(hours=23)) == 2
    for email in (org.owner, org.admin):
        assert inbox.wait_for(email, 2)["Subject"].endswith("expires in 1 day")
    assert await notice_turn(db, with_mail, now=expires_at - timedelta(hours=22)) == 0
    assert len(inbox.to(org.owner)) == 2
    assert inbox.to(org.developer) == []
    assert await actions(db, "api_key.expiring") == 2


async def test_a_member_who_turned_a_kind_off_gets_none_of_it(
    db: Database, client: httpx.AsyncClient, with_mail: Settings, mail_server: MailServer
) -> None:
    org = await make_organisation(db)
    await signed_in(client, org.owner)
    page = (await client.get(ACCOUNT)).text
    assert 'name="notices" value="expiry" id="notice-expiry" checked' in page
    saved = await post_form(client, ACCOUNT, f"{ACCOUNT}/notices", {"notices": ["leak", "quota"]})
    assert saved.status_code == 303
    page = (await client.get(ACCOUNT)).text
    assert 'value="expiry" id="notice-expiry">' in page
    assert 'value="quota" id="notice-quota" checked' in page
    await make_key(db, org.tenant_id, expires_at=utcnow() + timedelta(days=3))

    assert await notice_turn(db, with_mail) == 1

    assert "expires in 7 days" in mail_server.inbox.wait_for(org.admin)["Subject"]
    assert mail_server.inbox.to(org.owner) == []


@pytest.fixture
async def reporting_app(
    settings: Settings, db: Database, mail_server: MailServer
) -> AsyncIterator[tuple[FastAPI, Reporter]]:
    """An app with mail that trusts a leak reporter (`db`: the clean-up runs after)."""
    reporter = Reporter()
    app = create_app(
        mail_settings(settings, mail_server).model_copy(
            update={"leak_reporter_keys": reporter.setting}
        )
    )
    async with app.router.lifespan_context(app):
        yield app, reporter


async def test_a_leaked_key_is_mailed_once_its_revocation_commits(
    db: Database, reporting_app: tuple[FastAPI, Reporter], mail_server: MailServer
) -> None:
    app, reporter = reporting_app
    org = await make_organisation(db)
    _, secret_key = await _key_with_secret(db, org.tenant_id)
    body, headers = reporter.report(secret_key, url="https://github.com/acme/app/blob/main/.env")
    async with asgi_client(app) as client:
        answer = await client.post("/api/v1/leaked-keys", content=body, headers=headers)
    assert answer.status_code == 202

    for email in (org.owner, org.admin):
        # Sent by the app's own sender, woken by the commit: wait without blocking it.
        mail = await asyncio.to_thread(mail_server.inbox.wait_for, email)
        assert mail["Subject"].endswith("was found exposed and revoked")
        text = body_of(mail)
        assert "https://github.com/acme/app/blob/main/.env" in text
        assert secret_key not in text
    assert mail_server.inbox.to(org.developer) == []
    assert await notice_turn(db, mail_settings(app.state.settings, mail_server)) == 0
    assert len(mail_server.inbox.to(org.owner)) == 1


async def _key_with_secret(db: Database, tenant_id: object) -> tuple[object, str]:
    from relay.actors import SYSTEM
    from relay.auth import service as auth_service
    from relay.auth.schemas import ApiKeyCreate

    async with db.sessionmaker.begin() as session:
        api_key, secret = await auth_service.create_api_key(
            session, tenant_id=tenant_id, data=ApiKeyCreate(name="CI"), actor=SYSTEM,
            created_by=None,
        )  # fmt: skip
        return api_key.id, secret


async def test_a_quota_reaching_80_and_100_percent_mails_once_each(
    db: Database, with_mail: Settings, mail_server: MailServer
) -> None:
    org = await make_organisation(db)
    key_id, prefix = await make_key(db, org.tenant_id, name="Metered", quota=(10, "day"))
    ledger = QuotaLedger(db.engine)
    quota = Quota(key_id, 10, "day")
    for _ in range(7):
        assert (await ledger.take([quota]))[0].allowed
    assert await notice_turn(db, with_mail) == 0

    assert (await ledger.take([quota]))[0].allowed  # 8 of 10
    assert await notice_turn(db, with_mail) == 2
    warning = mail_server.inbox.wait_for(org.owner)
    assert warning["Subject"] == f"Relay: API key Metered ({prefix}…) has used 80 % of its quota"
    assert "10 requests per day" in body_of(warning)
    assert await notice_turn(db, with_mail) == 0

    for _ in range(2):
        assert (await ledger.take([quota]))[0].allowed
    assert await notice_turn(db, with_mail) == 2
    exhausted = mail_server.inbox.wait_for(org.admin, 2)
    assert exhausted["Subject"].endswith("has used all of its quota")
    assert "refused (429)" in body_of(exhausted)
    assert await notice_turn(db, with_mail) == 0
    assert len(mail_server.inbox.to(org.owner)) == 2
    assert mail_server.inbox.to(org.viewer) == []
    assert await actions(db, "api_key.quota_warning") == 1
    assert await actions(db, "api_key.quota_exhausted") == 1


async def test_a_mail_server_that_refuses_leaves_the_mail_pending(
    db: Database, settings: Settings
) -> None:
    """No mail is marked sent that did not go: with the server unreachable it stays
    pending, for a later turn."""
    from tests.live_server import free_port

    org = await make_organisation(db)
    await make_key(db, org.tenant_id, expires_at=utcnow() + timedelta(days=2))
    closed = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{free_port()}", "smtp_from": "r@example.com"}
    )

    assert await notice_turn(db, closed) == 0

    async with db.sessionmaker() as session:
        statuses = (await session.scalars(select(NoticeDelivery.status))).all()
    assert sorted(statuses) == ["pending", "pending"]


async def test_a_key_used_from_a_new_network_is_mailed_once_a_day(
    db: Database, with_mail: Settings, mail_server: MailServer
) -> None:
    org = await make_organisation(db)
    key_id, prefix = await make_key(db, org.tenant_id)
    principal = Principal(org.tenant_id, key_id, prefix, (), None)
    for worker in (KeyActivity(db.sessionmaker, 1), KeyActivity(db.sessionmaker, 1)):
        worker.record_use(principal, 200, "203.0.113.7", "deploy/3")  # one network, twice
        await worker.flush()

    assert await notice_turn(db, with_mail) == 2
    for email in (org.owner, org.admin):
        mail = mail_server.inbox.wait_for(email)
        assert (
            mail["Subject"] == f"Relay: API key Deploy bot ({prefix}…) was used from a new network"
        )
        assert "203.0.113.0/24" in body_of(mail)
        assert "user agent deploy/3" in body_of(mail)
    assert mail_server.inbox.to(org.developer) == []
    assert await actions(db, "api_key.new_network") == 1
