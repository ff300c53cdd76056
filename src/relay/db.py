"""Database plumbing: engine and sessions, the declarative base, shared column types."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    event,
    select,
)
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from relay.config import Settings
from relay.errors import driver_state_broken
from relay.reads import Reader, ReadPool
from relay.text import UnstorableText, check_storable

# Stable constraint names, so Alembic migrations name things identically on
# SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredString(TypeDecorator[str]):
    """The type of every text column (`StoredString(320)`; StoredLongText unbounded).
    The last guard behind relay.text's rules: a value the database could not keep (NUL,
    a lone surrogate, longer than the column) is refused with UnstorableText before it
    is sent, whatever path it came by (a 422, never a 500 and a rolled-back batch).
    A test walks every table and fails for a text column of another type."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None:
            check_storable(value)
            length = cast(String, self.impl_instance).length
            if length is not None and len(value) > length:
                raise UnstorableText(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    max_length=length,
                )
        return value


class StoredLongText(StoredString):
    """StoredString without a length (TEXT): NUL and lone surrogates are refused."""

    impl = Text
    cache_ok = True


def _check_json_text(value: Any) -> None:
    if isinstance(value, str):
        check_storable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json_text(key)
            _check_json_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json_text(item)


class StoredJSON(TypeDecorator[Any]):
    """The type of every JSON column: as StoredString, for each string inside
    (PostgreSQL refuses a lone surrogate's escape in json)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        _check_json_text(value)
        return value


class TenantOwned:
    """Mixin for rows that belong to one tenant; query them with `tenant_select`."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


TenantModel = TypeVar("TenantModel", bound=TenantOwned)


def tenant_select(model: type[TenantModel], tenant_id: uuid.UUID) -> Select[TenantModel]:
    """The one place tenant scoping is added: every query on tenant data starts here."""
    return select(model).where(model.tenant_id == tenant_id)


def tenant_rows(model: type[TenantOwned]) -> Select[Any]:
    """`tenant_select` for statements built once, at import: the rows of the model's
    table, for the tenant passed as the `tenant_id` parameter when executed."""
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    return select(table).where(table.c.tenant_id == bindparam("tenant_id"))


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own BEGIN is deferred: a transaction that reads, then writes,
    # fails at once with "database is locked" if another process wrote in
    # between. We emit BEGIN IMMEDIATE ourselves instead (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes a
    # second writer wait instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Takes SQLite's single write lock up front (waiting up to busy_timeout), so
    # transactions queue instead of failing. SQLite allows one writer anyway.
    # AUTOCOMMIT connections (single reads, such as key look-ups) take no lock.
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _discard_broken_connections(context: ExceptionContext) -> None:
    # SQLAlchemy discards a connection only for the errors it knows mean "gone";
    # asyncpg can also leave one unusable (see driver_state_broken) without saying so.
    current: BaseException | None = context.original_exception
    while current is not None:
        if driver_state_broken(current):
            context.is_disconnect = True
            return
        current = current.__cause__


def create_engine(settings: Settings, *, bounded: bool = True) -> AsyncEngine:
    """An async engine for the configured database, with its per-backend tuning. On
    PostgreSQL a `bounded` engine's statements end after db_statement_timeout (asyncpg
    cancels them; a connection whose cancel never got through, the database being
    hung, fails its next use as busy and is discarded then, see driver_state_broken)."""
    url = make_url(settings.async_database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": settings.db_connect_timeout}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout (cold key look-up
    # 0.65 ms without it, 1.4-2.6 ms with it, measured here). A connection found
    # dead fails one request with 503 and SQLAlchemy then discards the whole pool.
    # No overflow: under load, overflow connections were opened and closed again
    # request after request (9 % of a busy worker's CPU went into connecting).
    # Requests beyond the pool wait for a connection, up to the pool timeout.
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        # A failed statement's error (and so a logged traceback) names no value: a
        # password hash or a key digest among them was once logged with a 500.
        hide_parameters=True,
        connect_args={"timeout": settings.db_connect_timeout}
        | ({"command_timeout": settings.db_statement_timeout} if bounded else {}),
    )
    event.listen(engine.sync_engine, "handle_error", _discard_broken_connections)
    return engine


class Database:
    """The engine and session factory of one running app."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # For requests that only read: each statement stands alone, so no BEGIN
        # and COMMIT round trips (on SQLite, no write lock either).
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.reads = None if settings.is_sqlite else ReadPool(settings)

    def read_connection(self) -> AbstractAsyncContextManager[Reader]:
        """A connection for PreparedRead statements (see read_connection)."""
        return self.reads.connection() if self.reads else self.read_engine.connect()

    async def reconnected(self) -> None:
        """The database is back after an outage: no pooled connection is trusted."""
        await self.engine.dispose()
        if self.reads is not None:
            await self.reads.expire()

    async def dispose(self) -> None:
        try:
            await self.engine.dispose()
        finally:
            if self.reads is not None:
                await self.reads.close()


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """A Database for one command or script, its connections closed at the end."""
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    database: Database = request.app.state.db
    async with database.sessionmaker() as session:
        yield session
        await session.commit()


# scope="function": the commit runs before the response goes out, so a failed
# commit becomes an error response instead of a false success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a request that only reads: no transaction around it."""
    database: Database = request.app.state.db
    async with database.read_sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def read_session(request: Request) -> AsyncSession:
    """A read session for one step of a request, to open with `async with`: its
    connection goes back to the pool at the end of the block. For requests that go on
    to hash a password or to open another session: holding a connection while waiting
    for another one (or for argon2) stalls the worker until the pool's timeout once
    as many such requests arrive at once as the pool has connections, each holding
    what the others wait for."""
    database: Database = request.app.state.db
    return database.read_sessionmaker()


def read_connection(request: Request) -> AbstractAsyncContextManager[Reader]:
    """For a request that only reads rows with PreparedRead statements, to open with
    `async with`: a bare connection of the read pool (SQLAlchemy's on SQLite), without
    a session around it (which cost a busy worker about 15 % of its CPU on the dataset
    list: building, autobegin, closing), and opened in the route rather than by a
    dependency (which FastAPI's generator machinery made another 2 to 3 %)."""
    database: Database = request.app.state.db
    return database.read_connection()
