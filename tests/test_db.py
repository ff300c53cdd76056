"""The PostgreSQL connection pool: a fixed number of connections per worker."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from relay.config import Settings
from relay.db import Database


async def test_requests_beyond_the_pool_wait_instead_of_opening_connections(
    settings: Settings, is_sqlite: bool
) -> None:
    if is_sqlite:
        pytest.skip("the pool settings are PostgreSQL's")
    database = Database(settings.model_copy(update={"db_pool_size": 2, "db_connect_timeout": 0.2}))
    try:
        async with database.engine.connect(), database.engine.connect():
            # A third would once have opened an overflow connection, to close it
            # again on return; now it waits for one of the two, then gives up.
            with pytest.raises(PoolTimeoutError):
                async with database.engine.connect():
                    pass
        async with database.engine.connect():  # returned connections are reused
            assert database.engine.pool.checkedout() == 1
    finally:
        await database.dispose()
