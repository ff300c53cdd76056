"""Online migrations, on a database: upgrading one revision at a time builds the
models' schema, an upgrade run again after a failed concurrent build completes, and on
PostgreSQL `relay db upgrade` builds its indexes on a busy table of a million rows
without holding any write up for a second (a writer with lock_timeout = 1 s).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from relay.config import Settings
from relay.db import open_database
from relay.migrations import upgrade_database
from relay.reads import asyncpg_connect_args
from tests.live_server import RELAY, relay_env
from tests.test_migrations import schema_differences
from tests.test_online_migrations import REVISIONS


def _server_url() -> str | None:
    return os.environ.get("RELAY_TEST_DATABASE_URL")


async def _execute(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(**asyncpg_connect_args(database_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def _new_postgresql_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of `server_url`, dropped after."""
    name = f"relay_online_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's engine: a new SQLite file, or a new database on
    the server of RELAY_TEST_DATABASE_URL."""
    server_url = _server_url()
    if server_url is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _new_postgresql_database(server_url) as database_url:
        yield database_url


@pytest.fixture
def empty_postgresql_database() -> Iterator[str]:
    server_url = _server_url()
    if server_url is None:
        pytest.skip("concurrent index builds are PostgreSQL's (RELAY_TEST_DATABASE_URL)")
    with _new_postgresql_database(server_url) as database_url:
        yield database_url


async def _schema_differences(settings: Settings) -> list[object]:
    async with open_database(settings) as database, database.engine.connect() as connection:
        return await connection.run_sync(schema_differences)


def test_upgrading_one_revision_at_a_time_builds_the_models_schema(empty_database: str) -> None:
    """Each revision as an upgrade of its own (so from any revision to the next), its
    online changes first in the run; the suite's own database was built in one run from
    empty, online changes in the middle of it."""
    settings = Settings(database_url=empty_database)
    for revision in REVISIONS:
        upgrade_database(settings, revision)
    assert asyncio.run(_schema_differences(settings)) == []


# The indexes of 0024, made by test_an_upgrade_run_again_after_failed_builds_completes.
ACTOR_INDEX = "ix_audit_events_tenant_id_actor_at_id"
KEY_INDEX = "ix_audit_events_tenant_id_target_type_target_id_at_id"


async def _audit_event_indexes(database_url: str) -> dict[str, tuple[bool, str]]:
    """{name: (valid, definition)} of each index of audit_events."""
    connection = await asyncpg.connect(**asyncpg_connect_args(database_url))
    try:
        rows = await connection.fetch(
            "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) AS definition "
            "FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'audit_events'::regclass"
        )
    finally:
        await connection.close()
    return {row["relname"]: (row["indisvalid"], row["definition"]) for row in rows}


async def _leave_builds_behind(database_url: str) -> None:
    """As an upgrade to 0024 that failed would: the actor index left INVALID by a
    concurrent build that failed (here on a duplicate key), the key index whole."""
    tenant = uuid.uuid4()
    connection = await asyncpg.connect(**asyncpg_connect_args(database_url))
    try:
        await connection.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, 'T', now())", tenant
        )
        for _ in range(2):
            await connection.execute(
                "INSERT INTO audit_events (id, tenant_id, at, action, actor, details) "
                "VALUES ($1, $2, now(), 'dataset.created', 'system', '{}')",
                uuid.uuid4(), tenant,
            )  # fmt: skip
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY {ACTOR_INDEX} ON audit_events (tenant_id)"
            )
        await connection.execute(
            f"CREATE INDEX {KEY_INDEX} ON audit_events (tenant_id, target_type, target_id, at, id)"
        )
    finally:
        await connection.close()


def test_an_upgrade_run_again_after_failed_builds_completes(
    empty_postgresql_database: str,
) -> None:
    """A concurrent build that fails leaves an INVALID index of its name, which `IF
    NOT EXISTS` alone would take for built; one that succeeded before the upgrade
    failed later leaves a valid one. Run again, the upgrade rebuilds the first and
    keeps the second."""
    settings = Settings(database_url=empty_postgresql_database)
    upgrade_database(settings, "0023")
    asyncio.run(_leave_builds_behind(empty_postgresql_database))
    assert asyncio.run(_audit_event_indexes(empty_postgresql_database))[ACTOR_INDEX][0] is False

    upgrade_database(settings, "0024")

    indexes = asyncio.run(_audit_event_indexes(empty_postgresql_database))
    assert indexes[ACTOR_INDEX] == (
        True,
        f"CREATE INDEX {ACTOR_INDEX} ON public.audit_events USING btree (tenant_id, actor, at, id)",
    )
    assert indexes[KEY_INDEX][0] is True


BUSY_ROWS = 1_000_000
# Whether an index of audit_events is being built as a write ends.
_BUILDING = (
    "(SELECT count(*) > 0 FROM pg_stat_progress_create_index AS p "
    "WHERE p.relid = 'audit_events'::regclass "
    "AND p.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)
# The writer inserts an event, then updates it, and so on.
_INSERT = (
    "INSERT INTO audit_events (id, tenant_id, at, action, actor, details) "  # noqa: S608
    f"VALUES ($1, $2, now(), 'dataset.created', 'user:writer@example.com', '{{}}') "
    f"RETURNING {_BUILDING}"
)
_UPDATE = (
    "UPDATE audit_events SET target_name = 'updated' WHERE id = $1 "  # noqa: S608
    f"RETURNING {_BUILDING}"
)
# Ids in order, as the keys of a table written over time (random ones cost twice as much).
_SEED = """
INSERT INTO audit_events (id, tenant_id, at, action, actor, target_type, target_id, details)
SELECT uuid_in(lpad(to_hex(n), 32, '0')::cstring), $1,
       timestamptz '2026-12-01' - n * interval '1 second', 'api_key.used',
       'user:member' || n % 50 || '@example.com',
       CASE WHEN n % 4 = 0 THEN 'api_key' END, CASE WHEN n % 4 = 0 THEN (n % 200)::text END, '{}'
FROM generate_series(1, $2) AS n
"""


async def _fill(connection: asyncpg.Connection, tenant: uuid.UUID, rows: int) -> None:
    """`rows` events of `tenant`, quickly: the table's keys and indexes are dropped for
    the load, then made again as they were, each in one pass rather than row by row."""
    constraints = await connection.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'audit_events'::regclass AND contype IN ('p', 'f') "
        "ORDER BY contype DESC"  # the primary key ('p') first
    )
    indexes = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    async with connection.transaction():
        await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for index in indexes:
            await connection.execute(f"DROP INDEX {index['indexname']}")
        for constraint in reversed(constraints):
            await connection.execute(
                f"ALTER TABLE audit_events DROP CONSTRAINT {constraint['conname']}"
            )
        await connection.execute(_SEED, tenant, rows)
        for constraint in constraints:
            await connection.execute(
                f"ALTER TABLE audit_events ADD CONSTRAINT {constraint['conname']} "
                f"{constraint['definition']}"
            )
        for index in indexes:
            await connection.execute(index["indexdef"])


@dataclass(frozen=True, slots=True)
class Write:
    started: float
    ended: float
    while_building: bool  # an index of the table was being built as it ended
    error: str | None


class Writer:
    """Inserts an event, then updates it, and so on until stopped, on a
    connection of its own whose writes fail once blocked by a lock for 1 s."""

    def __init__(self, database_url: str, tenant: uuid.UUID) -> None:
        self.database_url = database_url
        self.tenant = tenant
        self.writes: list[Write] = []
        self.writing = asyncio.Event()  # set at the first write (or as run() ends)
        self.stop = asyncio.Event()

    async def run(self) -> None:
        connection = await asyncpg.connect(**asyncpg_connect_args(self.database_url))
        try:
            await connection.execute("SET lock_timeout = '1s'")
            event_id = None
            while not self.stop.is_set():
                started, building, error = time.monotonic(), False, None
                try:
                    if event_id is None:
                        event_id = uuid.uuid4()
                        building = await connection.fetchval(_INSERT, event_id, self.tenant)
                    else:
                        building = await connection.fetchval(_UPDATE, event_id)
                        event_id = None
                except asyncpg.PostgresError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self.writes.append(Write(started, time.monotonic(), bool(building), error))
                self.writing.set()
        finally:
            self.writing.set()
            await connection.close()


async def _relay_db_upgrade(database_url: str) -> tuple[int | None, str, str]:
    """(exit status, stdout, stderr) of the `relay db upgrade` command."""
    upgrade = await asyncio.create_subprocess_exec(
        RELAY, "db", "upgrade", env=relay_env(database_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(upgrade.communicate(), timeout=600)
    finally:
        if upgrade.returncode is None:
            upgrade.kill()
            await upgrade.wait()
    return upgrade.returncode, out.decode(), err.decode()


async def test_upgrading_a_busy_table_of_a_million_rows_holds_no_write_up_for_1s(
    empty_postgresql_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`relay db upgrade` to 0024 builds two indexes on audit_events, a million rows,
    while a writer inserts and updates rows of it: every write succeeds, under a lock
    timeout of 1 s (so none waited on a lock for longer), some of them while an index
    was being built; the indexes end valid. Built in place (CREATE INDEX, which locks
    out writes for the build), the writer's writes time out."""
    database_url = empty_postgresql_database
    await asyncio.to_thread(upgrade_database, Settings(database_url=database_url), "0023")
    tenant = uuid.uuid4()
    connection = await asyncpg.connect(**asyncpg_connect_args(database_url))
    try:
        await connection.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, 'Busy', now())", tenant
        )
        seeding = time.monotonic()
        await _fill(connection, tenant, BUSY_ROWS)
        seeded_in = time.monotonic() - seeding
    finally:
        await connection.close()

    writer = Writer(database_url, tenant)
    writing = asyncio.create_task(writer.run())
    try:
        await writer.writing.wait()
        assert not writing.done(), writing.exception()
        began = time.monotonic()
        upgraded = await _relay_db_upgrade(database_url)
        ended = time.monotonic()
    finally:
        writer.stop.set()
        await writing

    assert upgraded == (0, "Database is up to date.\n", "")
    assert [write.error for write in writer.writes if write.error] == []
    during = [write for write in writer.writes if began < write.started and write.ended < ended]
    assert during, "no write was made during the upgrade"
    assert any(write.while_building for write in during), "no write during an index build"
    indexes = await _audit_event_indexes(database_url)
    assert (indexes[ACTOR_INDEX][0], indexes[KEY_INDEX][0]) == (True, True)
    slowest = max(write.ended - write.started for write in during)
    with capsys.disabled():
        print(
            f"\nbusy upgrade: {BUSY_ROWS} rows seeded in {seeded_in:.1f} s; upgrade "
            f"{ended - began:.1f} s; {len(during)} writes during it "
            f"({sum(write.while_building for write in during)} while an index was being "
            f"built), the slowest {slowest * 1000:.0f} ms"
        )
