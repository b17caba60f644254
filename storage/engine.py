"""Build the SQLAlchemy engine for a database URL: SQLite (a file, WAL) or PostgreSQL (psycopg 3)."""

import importlib.util
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import StorageError

# FULL: in WAL mode every commit is fsynced to the -wal file before it returns, so a write the client got a
# 2xx for survives kill -9 *and* a power cut. NORMAL survives kill -9 only. Moderation writes are a few per
# request, so one fsync each costs little next to the model.
SQLITE_SYNCHRONOUS = "FULL"
# Requests run on a thread pool; a writer waits this long for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 5
# The service's default (serve.settings.Settings.database_url) and its environment variable, for the
# command-line tools that read the same database without loading the service's settings.
DEFAULT_DATABASE_URL = "sqlite:///var/moderation.sqlite3"
DATABASE_ENV = "MODERATION_DATABASE_URL"
# Execution option on a connection: its transactions take SQLite's write lock at BEGIN. No-op on PostgreSQL.
WRITE_LOCK = "moderation_write_lock"
SUPPORTED = "sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/dbname"


def default_database_url() -> str:
    return os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL


def parse_url(url: str) -> URL:
    """Check the URL names a supported backend; use psycopg 3 for a bare postgresql:// URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(f"database URL {url!r} is not a valid URL; expected {SUPPORTED}") from e
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        # An optional extra: a SQLite-only install has no driver, and SQLAlchemy's own error would not say so.
        if importlib.util.find_spec("psycopg") is None:
            raise StorageError(
                f"database URL {safe_url(parsed)!r} needs psycopg 3, which is not installed; install the "
                "PostgreSQL extra: pip install 'comment-moderation[postgres]'"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise StorageError(f"database URL {safe_url(parsed)!r}: unsupported backend {backend!r}; expected {SUPPORTED}")
    if not parsed.database or parsed.database == ":memory:":
        raise StorageError(
            f"database URL {url!r} names no file; an in-memory database loses every write at exit. Expected {SUPPORTED}"
        )
    return parsed


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for a server database."""
    parsed = parse_url(url)
    return Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None


def safe_url(url: URL) -> str:
    """The URL for messages and logs: the password never appears."""
    return url.render_as_string(hide_password=True)


def dumps_json(value: Any) -> str:
    """JSON for the audit columns. Scores often arrive as numpy floats, which json cannot write by itself."""
    return json.dumps(value, default=_json_default, allow_nan=False)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy here
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable; pass str, int, float, bool, list or dict")


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for PostgreSQL, in-memory databases and URI forms."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("uri") == "true":
        return None
    return Path(url.database)


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        # pre_ping: a server restart leaves dead pooled connections; test each before use instead of failing once.
        # A server that does not answer must not hang a request: psycopg waits forever by default.
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        return create_engine(parsed, pool_pre_ping=True, json_serializer=dumps_json, connect_args=connect_args)
    path = Path(parsed.database or "")
    try:
        # A SQLite URI ("file:...?mode=ro&uri=true") names no directory we should create.
        if not str(path).startswith("file:") and parsed.query.get("uri") != "true":
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(
            f"cannot create the directory {path.parent} for the database {path} ({e.strerror}); "
            "create it or point database_url at a writable place"
        ) from e
    engine = create_engine(
        parsed,
        json_serializer=dumps_json,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling runs DDL outside any transaction, so two workers
    # migrating one file race to CREATE TABLE. Switch it off; _sqlite_begin emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (exports, audit lists) run while a writer commits. journal_mode is stored in the
        # file; synchronous is per connection, so both are set on every new connection.
        _set_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    finally:
        cursor.close()


def _set_wal(cursor: Any) -> None:
    """PRAGMA journal_mode=WAL, waiting out a concurrent switch.

    Switching a fresh file to WAL takes an exclusive lock, and SQLite may answer "database is locked" at
    once rather than wait the busy timeout. Workers starting together on a fresh file race for it: the
    suspected cause of one "database is locked" failure of test_processes_starting_together_migrate_once
    (tests/store_contract.py) under load, which did not recur in reruns.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(conn: Connection) -> None:
    # Writers ask for BEGIN IMMEDIATE (WRITE_LOCK): the write lock is taken up front and waits out the busy
    # timeout. A deferred transaction that reads, then writes, fails at once if another writer got in between.
    mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_LOCK) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")
