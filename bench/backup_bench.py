"""How long `relay db backup` and `relay db restore` take on a SQLite database holding
ROWS audit events (100,000 by default): prints the database's size and the seconds of
each, the command's own work without Python's start-up.

    .venv/bin/python bench/backup_bench.py [ROWS]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from relay import backups
from relay.audit.models import AuditEvent
from relay.config import Settings
from relay.db import open_database
from relay.migrations import upgrade_database
from relay.tenants.models import Tenant

CHUNK = 5_000


async def fill(settings: Settings, rows: int) -> None:
    """One tenant and `rows` audit events, of the size a dashboard sign-in writes."""
    start = datetime.now(UTC) - timedelta(days=90)
    async with open_database(settings) as database, database.sessionmaker.begin() as session:
        tenant = Tenant(name="Bench")
        session.add(tenant)
        await session.flush()
        for first in range(0, rows, CHUNK):
            events = [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant.id,
                    "at": start + timedelta(seconds=number),
                    "action": "user.signed_in",
                    "actor": f"user:member-{number % 50}@example.com",
                    "client_address": "203.0.113.7",
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                    "details": {"method": "password"},
                }
                for number in range(first, min(first + CHUNK, rows))
            ]
            await session.execute(insert(AuditEvent), events)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        database, backup = Path(folder) / "relay.db", Path(folder) / "backup.db"
        settings = Settings(database_url=f"sqlite:///{database}")
        upgrade_database(settings)
        asyncio.run(fill(settings, rows))
        began = time.perf_counter()
        made = backups.back_up(settings, backup)
        backed_up = time.perf_counter() - began
        began = time.perf_counter()
        backups.restore(Settings(database_url=f"sqlite:///{Path(folder) / 'fresh.db'}"), backup)
        restored = time.perf_counter() - began
    print(f"audit events: {rows:,}")
    print(f"backup size: {made.size / 1e6:.1f} MB")
    print(f"backup: {backed_up:.2f} s")
    print(f"restore into a new file: {restored:.2f} s")


if __name__ == "__main__":
    main()
