"""Backups of the embedded SQLite database: `relay db backup` and `relay db restore`.

A backup is one read of SQLite's online backup API, taken while the server runs: in
WAL mode a reader never blocks the writers, so the copy is the database as it was when
the read began, whatever is written meanwhile. It goes to a temporary file beside the
destination, renamed only once whole, so a half-made backup never looks like one.

A restore writes through SQLite too, under an exclusive lock on the configured
database: a server that holds it open (in WAL mode each connection keeps a shared lock
for as long as it is open) makes the lock fail, and the restore is refused. Copying
through the lock, rather than renaming files, also leaves no stale `-wal` file of the
old database to be replayed onto the new one. The database as it was is kept beside it.

PostgreSQL has its own tools: these say which, with the configured URL and never its
password.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from relay import __version__
from relay.config import Settings
from relay.migrations import alembic_config

# How long a restore waits for the database's lock before deciding a server holds it.
LOCK_TIMEOUT_SECONDS = 2.0
# A backup's read waits this long behind a checkpoint or a recovery, which are short.
READ_TIMEOUT_SECONDS = 10.0
# What to run instead on PostgreSQL: {path} is the file given, {url} the database's.
PG_DUMP = ("pg_dump", "--format=custom", "--file={path}", "--dbname={url}")
PG_RESTORE = ("pg_restore", "--clean", "--if-exists", "--dbname={url}", "{path}")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    revision: str | None


@dataclass(frozen=True)
class Restored:
    database: Path
    revision: str
    head: str
    kept: Path | None

    @property
    def needs_upgrade(self) -> bool:
        return self.revision != self.head


def back_up(settings: Settings, destination: Path, *, force: bool = False) -> Backup:
    """Copy the configured SQLite database to `destination` (one consistent snapshot,
    while the server runs); BackupError on PostgreSQL, naming the pg_dump command."""
    database = _sqlite_file(settings, tool=PG_DUMP, path=destination)
    if not database.is_file():
        raise BackupError(f"No database at {database}: nothing to back up.")
    if destination.exists() and destination.resolve() == database.resolve():
        raise BackupError(f"{destination} is the database itself: name another file.")
    with _sqlite_errors(f"back up {database}"):
        with closing(_open_read_only(database, timeout=READ_TIMEOUT_SECONDS)) as source:
            _copy(source, destination, force=force)
        with closing(_open_read_only(destination)) as copy:
            revision = _revision(copy)
    return Backup(destination, destination.stat().st_size, revision)


def restore(settings: Settings, backup: Path) -> Restored:
    """Put `backup` in place of the configured SQLite database, which no server may
    hold; the database as it was is kept as `<db>.before-restore-<time>`."""
    database = _sqlite_file(settings, tool=PG_RESTORE, path=backup)
    if database.exists() and backup.resolve() == database.resolve():
        raise BackupError(f"{backup} is the database itself: nothing to restore.")
    head = _head(settings)
    with _sqlite_errors(f"restore {backup}"), closing(_open_backup(backup)) as source:
        revision = _relay_revision(settings, source, backup)
        database.parent.mkdir(parents=True, exist_ok=True)
        with closing(_lock(database)) as target:
            kept = None
            if target.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                kept = database.with_name(f"{database.name}.before-restore-{stamp}")
                _copy(target, kept, force=False)
            source.backup(target)
    return Restored(database, revision, head, kept)


def _sqlite_file(settings: Settings, *, tool: tuple[str, ...], path: Path) -> Path:
    """The database's file; BackupError on PostgreSQL, naming its own `tool` instead."""
    url = make_url(settings.async_database_url)
    if url.get_backend_name() != "sqlite":
        # The tools' URL: no driver name, and no password (asked for, or PGPASSWORD).
        # `set` leaves a field given None as it is: _replace, namedtuple's, clears it.
        libpq = make_url(settings.database_url)._replace(drivername="postgresql", password=None)
        libpq = libpq.difference_update_query(["password"])
        given = {"url": libpq.render_as_string(hide_password=False), "path": path}
        command = shlex.join(part.format_map(given) for part in tool)
        raise BackupError(
            f"This command copies the embedded SQLite database; on PostgreSQL use "
            f"{tool[0]}: {command} (it asks for the password, or reads PGPASSWORD or "
            "~/.pgpass)."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is no file to copy.")
    return Path(url.database)


@contextmanager
def _sqlite_errors(doing: str) -> Iterator[None]:
    """SQLite's own failures (a full disk, a file it cannot open) told in one line."""
    try:
        yield
    except sqlite3.Error as exc:
        raise BackupError(f"Cannot {doing}: {exc}.") from None


def _open_read_only(path: Path, *, timeout: float = 0) -> sqlite3.Connection:
    # mode=ro: a backup never writes to the database it reads, whatever goes wrong.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)


def _open_backup(backup: Path) -> sqlite3.Connection:
    """The backup to restore, read-only, once it is known to be a sound SQLite file."""
    try:
        with backup.open("rb") as file:
            is_sqlite = file.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError as exc:
        raise BackupError(f"Cannot read {backup}: {exc.strerror}.") from None
    if not is_sqlite:
        raise BackupError(f"{backup} is not a SQLite database: nothing was restored.")
    connection = _open_read_only(backup)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems != ["ok"]:
        connection.close()
        raise BackupError(f"{backup} is damaged ({problems[0]}): nothing was restored.")
    return connection


def _revision(connection: sqlite3.Connection) -> str | None:
    """The schema revision a database holds (None without Alembic's table)."""
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return None
    return ",".join(sorted(row[0] for row in rows)) or None


def _head(settings: Settings) -> str:
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config(settings)).get_heads()))


def _relay_revision(settings: Settings, backup: sqlite3.Connection, path: Path) -> str:
    """The backup's revision, one this Relay can run; BackupError otherwise."""
    revision = _revision(backup)
    if revision is None:
        raise BackupError(f"{path} is not a Relay database (no schema revision in it).")
    script = ScriptDirectory.from_config(alembic_config(settings))
    try:
        script.get_revision(revision)
    except CommandError:
        raise BackupError(
            f"{path} holds schema revision {revision}, which Relay {__version__} does not "
            "know: a newer Relay made it, and this one cannot run it. Restore it with that "
            "version."
        ) from None
    return revision


def _lock(database: Path) -> sqlite3.Connection:
    """A connection holding the database exclusively until it is closed."""
    connection = sqlite3.connect(database, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
    try:
        # An exclusive locking mode keeps each lock taken until the connection closes,
        # and in WAL mode it needs every other connection to be closed first.
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("SELECT count(*) FROM sqlite_master")
        connection.execute("COMMIT")
        # Out of WAL: a backup cannot change the page size of a WAL database. The
        # server turns WAL on again as it opens the database.
        connection.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        connection.close()
        if exc.sqlite_errorname == "SQLITE_BUSY":
            raise BackupError(
                f"The database {database} is in use (by `relay serve`? Litestream?): stop "
                "what holds it, then restore."
            ) from None
        raise BackupError(f"Cannot restore into {database}: {exc}.") from None
    return connection


def _copy(source: sqlite3.Connection, destination: Path, *, force: bool) -> None:
    """Copy the database `source` is connected to into the file `destination`."""
    if destination.is_dir():
        raise BackupError(f"{destination} is a directory: name a file in it.")
    if destination.exists() and not force:
        raise BackupError(f"{destination} exists: name another file, or replace it with --force.")
    if not destination.parent.is_dir():
        raise BackupError(f"No directory {destination.parent}: create it first.")
    with _temporary_beside(destination) as partial:
        with closing(sqlite3.connect(partial, isolation_level=None)) as copy:
            # All pages in one step: a backup made in several steps starts again each
            # time another connection writes in between, so under steady writes it
            # might never end; one read blocks no writer in WAL mode.
            source.backup(copy)
            # One self-contained file, with no -wal beside it to lose.
            copy.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, destination)
    _sync_directory(destination.parent)


@contextmanager
def _temporary_beside(destination: Path) -> Iterator[Path]:
    """A new file's name in the destination's directory, removed unless renamed."""
    handle, name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"
    )
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    finally:
        for leftover in (partial, *(Path(f"{partial}{end}") for end in ("-journal", "-wal"))):
            leftover.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    # The rename is durable once the directory is: a crash must not lose a backup
    # the command said it made.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
