"""Every worker sweeps every tenant that has a quota or an expiring key once a minute,
and almost always nothing is due: such a sweep takes no write lock, so on SQLite it
never makes requests (or another process's sweep) wait behind it. A sweep used to hold
the one write lock for each tenant in turn, past a loaded machine's busy timeout."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from relay.config import Settings
from relay.db import Database, utcnow
from relay.notices import sweeps
from tests.notices.helpers import make_key, make_organisation


async def test_a_sweep_with_nothing_due_runs_while_another_process_holds_the_write_lock(
    db: Database, settings: Settings, is_sqlite: bool, caplog: pytest.LogCaptureFixture
) -> None:
    if not is_sqlite:
        pytest.skip("SQLite's one write lock; PostgreSQL has none to hold")
    org = await make_organisation(db)
    await make_key(db, org.tenant_id, name="Metered", quota=(1000, "day"))
    await make_key(db, org.tenant_id, name="Later", expires_at=utcnow() + timedelta(days=30))

    holder = sqlite3.connect(make_url(settings.database_url).database or "", timeout=1)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing
        with caplog.at_level(logging.WARNING, logger="relay.background"):
            assert await sweeps.sweep(db.sessionmaker) == 0
        assert not [r for r in caplog.records if "notice sweep failed" in r.getMessage()]
    finally:
        holder.rollback()
        holder.close()

    # A notice due is still raised (in a write transaction of its own).
    await make_key(db, org.tenant_id, name="Soon", expires_at=utcnow() + timedelta(days=6))
    assert await sweeps.sweep(db.sessionmaker) == 1
    assert await sweeps.sweep(db.sessionmaker) == 0
