"""Several workers (and servers) sweep and send at once: each notice is raised once and
each recipient gets its mail once (PostgreSQL: the unique notice, and deliveries
claimed with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from relay.config import Settings
from relay.db import Database, open_database, utcnow
from tests.mail_server import MailServer
from tests.notices.helpers import mail_settings, make_key, make_organisation, notice_turn

WORKERS = 3
KEYS = 12


async def test_three_workers_sweeping_and_sending_at_once_mail_each_notice_once(
    db: Database, settings: Settings, is_sqlite: bool, mail_server: MailServer
) -> None:
    if is_sqlite:
        pytest.skip("several workers need PostgreSQL (relay serve refuses them on SQLite)")
    with_mail = mail_settings(settings, mail_server)
    org = await make_organisation(db)
    for number in range(KEYS):
        await make_key(
            db, org.tenant_id, name=f"Key {number}", expires_at=utcnow() + timedelta(days=5)
        )
    async with (
        open_database(settings) as second,
        open_database(settings) as third,
    ):
        workers = [db, second, third]
        assert len(workers) == WORKERS
        sent = 0
        for _ in range(3):  # turns at once, then again: the later ones find nothing
            results = await asyncio.gather(*(notice_turn(w, with_mail) for w in workers))
            sent += sum(results)

    assert sent == 2 * KEYS
    for email in (org.owner, org.admin):
        mails = mail_server.inbox.to(email)
        assert len(mails) == KEYS
        assert len({str(mail["Subject"]) for mail in mails}) == KEYS
