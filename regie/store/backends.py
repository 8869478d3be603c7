"""What differs between SQLite and PostgreSQL: connecting, locking, upserts, which errors to retry.

Everything else in the store is one SQLAlchemy Core implementation over both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert

from regie.store.urls import is_sqlite

__all__ = ["IN_LIST", "WRITE", "Backend", "backend_for", "chunks"]

_T = TypeVar("_T")

#: Values per ``IN (...)`` list or multi-row INSERT: well under the bound-parameter limits of
#: both backends (SQLite's 32,766, PostgreSQL's 65,535).
IN_LIST = 500

#: Execution option marking a connection whose transactions write (SQLite takes the write lock at BEGIN).
WRITE = "regie_write"

# How long a writer waits for another one before its attempt fails (and is retried).
_BUSY_SECONDS = 30
# Any fixed number: the key of PostgreSQL's advisory lock around migrations.
_MIGRATION_LOCK = 0x7265676965


class Backend:
    """The PostgreSQL behaviour; :class:`SqliteBackend` overrides what SQLite does differently."""

    name = "postgresql"

    def engine(self, url: URL) -> Engine:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})

    def insert_or_nothing(self, table: Table, values: list[dict[str, Any]]) -> Insert:
        """An INSERT that skips rows whose key already exists, instead of failing the transaction."""
        return postgresql.insert(table).values(values).on_conflict_do_nothing()

    def lock_migrations(self, conn: Connection) -> None:
        # Two replicas starting on an empty database must not both create the tables.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})

    def retryable(self, err: DBAPIError) -> bool:
        """Serialization failures and deadlocks: the transaction did nothing and may be run again."""
        code = getattr(err.orig, "sqlstate", None)
        return code in ("40001", "40P01")


class SqliteBackend(Backend):
    name = "sqlite"

    def engine(self, url: URL) -> Engine:
        engine = create_engine(url, connect_args={"timeout": _BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    def insert_or_nothing(self, table: Table, values: list[dict[str, Any]]) -> Insert:
        return sqlite.insert(table).values(values).on_conflict_do_nothing()

    def lock_migrations(self, conn: Connection) -> None:
        """Nothing to do: the migration's transaction began with BEGIN IMMEDIATE, SQLite's write lock."""

    def retryable(self, err: DBAPIError) -> bool:
        return "database is locked" in str(err.orig) or "database is busy" in str(err.orig)


def backend_for(url: URL) -> Backend:
    return SqliteBackend() if is_sqlite(url) else Backend()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is switched off: _sqlite_begin chooses the kind of BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_SECONDS * 1000}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock when it begins: a deferred transaction that reads and
    # then writes can fail at its first write with SQLITE_BUSY, without waiting, mid-way.
    # Readers begin deferred, so in WAL mode they never wait for writers.
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def chunks(items: Iterable[_T], size: int = IN_LIST) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size``, in order."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
