"""The Store: every read and write the service and the training CLI make to the database.

Each write method commits before it returns, so a caller that answers 2xx afterwards has made the write
durable. Every database failure leaves as StorageError with the database, the operation and a fix.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import Connection, Row, Table, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

from . import migrate, schema
from .engine import SQLITE_BUSY_TIMEOUT_S, WRITE_LOCK, make_engine, parse_url, safe_url, sqlite_file
from .errors import StorageError
from .queue import QueueStore
from .records import Article, AuditEntry, Feedback, FeedbackIn, QueuedIn, to_signed64, to_unsigned64
from .rows import audit_rows, queue_rows
from .writelock import NoLock, WriteLock

# While the database is unavailable, calls fail fast with the last error and one call per this many seconds
# retries: predictions do not each wait on a dead database, and writes resume soon after it is back.
MIGRATE_RETRY_S = 1.0
# iter_feedback reads in pages by id, so an export of a large table neither holds one huge result in memory
# nor keeps a read transaction (and, on SQLite, the WAL) open for the whole export.
FEEDBACK_PAGE = 1000

log = logging.getLogger("storage")


class Store(QueueStore):
    def __init__(self, url: str) -> None:
        """Connect and bring the schema to the newest migration.

        Raises StorageError for what waiting cannot fix: a bad URL, a directory that cannot be created, a
        schema newer than this code. A database that is only unavailable (server down, read-only or full
        file system) does not stop the caller from starting: every call raises StorageError until a retry
        (at most one per MIGRATE_RETRY_S) opens and migrates it, so the service keeps predicting meanwhile.
        """
        self.url = safe_url(parse_url(url))
        self._engine = make_engine(url)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._write_lock = (
            WriteLock(sqlite_file(self._engine), SQLITE_BUSY_TIMEOUT_S)
            if self._engine.dialect.name == "sqlite"
            else NoLock()
        )
        self._retry_at = 0.0
        self._unavailable: StorageError | None = None
        try:
            self._ensure_ready()
        except StorageError as e:
            if self._unavailable is None:  # not a transient failure: give up now
                self._engine.dispose()
                raise
            log.warning("%s; will retry on the next call", e)

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            if self._unavailable is not None and time.monotonic() < self._retry_at:
                raise StorageError(str(self._unavailable))  # a new one: re-raising one object grows its traceback
            try:
                with self._write_lock:  # processes starting together migrate one after another
                    migrate.upgrade(self._engine)
            except CommandError as e:
                raise StorageError(
                    f"database {self.url}: cannot apply migrations ({e}). If the database was written by a newer "
                    "version of this service, run that version or restore a backup"
                ) from e
            except DBAPIError as e:  # the driver's error: unreachable, read-only, full; may pass
                self._unavailable = StorageError(str(_storage_error(self.url, "open and migrate the database", e)))
                self._retry_at = time.monotonic() + MIGRATE_RETRY_S
                raise self._unavailable from e
            except SQLAlchemyError as e:
                raise _storage_error(self.url, "migrate the schema", e) from e
            self._ready, self._unavailable = True, None

    def close(self) -> None:
        self._engine.dispose()
        self._write_lock.close()

    def ping(self) -> None:
        """Read and write one row, so a read-only or full database is reported, not just an unreachable one."""
        values = {"id": 1, "checked_at": datetime.now(UTC)}
        with self._write("run the health check (one write)") as conn:
            # An upsert, not update-then-insert: two workers pinging a fresh database would race to insert.
            stmt = _insert_for(conn)(schema.health).values(**values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    # Articles

    def put_article(self, article_id: str, title: str, body: str, url: str) -> None:
        """Insert or replace the article (last write wins)."""
        values = {"id": article_id, "title": title, "body": body, "url": url, "updated_at": datetime.now(UTC)}
        with self._write("store the article") as conn:
            stmt = _insert_for(conn)(schema.articles).values(**values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def get_article(self, article_id: str) -> Article | None:
        with self._read("read the article") as conn:
            row = conn.execute(select(schema.articles).where(schema.articles.c.id == article_id)).first()
        return None if row is None else Article(**row._asdict())

    # Feedback

    def add_feedback(self, item: FeedbackIn) -> int:
        """Store a moderator's decision; returns its id."""
        values = asdict(item)
        values["created_at"] = item.created_at or datetime.now(UTC)
        with self._write("store the feedback") as conn:
            result = conn.execute(insert(schema.feedback).values(**values).returning(schema.feedback.c.id))
            return int(result.scalar_one())

    def iter_feedback(self) -> Iterator[Feedback]:
        """Every feedback row, oldest first."""
        last_id = 0
        while True:
            with self._read("read feedback") as conn:
                rows = conn.execute(
                    select(schema.feedback)
                    .where(schema.feedback.c.id > last_id)
                    .order_by(schema.feedback.c.id)
                    .limit(FEEDBACK_PAGE)
                ).all()
            for row in rows:
                yield Feedback(**row._asdict())
            if len(rows) < FEEDBACK_PAGE:
                return
            last_id = rows[-1].id

    # Audit log

    def add_audit(self, entries: list[AuditEntry]) -> None:
        """Record decisions in one transaction: all of a request's entries, or none."""
        self.record_decisions(entries, "", [])

    def record_decisions(
        self,
        entries: list[AuditEntry],
        site_id: str,
        fingerprints: list[tuple[int, str, str | None]],
        queued: list[QueuedIn] | None = None,
    ) -> None:
        """A request's audit entries, its comments' fingerprints (see add_fingerprints) and the held ones'
        place in the moderator's queue (storage/queue.py) in one transaction: all or none, and one commit per
        request (the service's hot path)."""
        audit, prints = audit_rows(entries), _fingerprint_rows(site_id, fingerprints)
        held = queue_rows(queued or [])
        if not (audit or prints or held):
            return
        with self._write("write the audit log and comment fingerprints") as conn:
            if audit:
                conn.execute(insert(schema.audit), audit)
            if prints:
                conn.execute(insert(schema.fingerprints), prints)
            if held:
                conn.execute(insert(schema.queue), held)

    def list_audit(self, comment_id: str) -> list[AuditEntry]:
        """Every decision recorded for the comment, oldest first."""
        table = schema.audit
        with self._read("read the audit log") as conn:
            rows = conn.execute(
                select(table).where(table.c.comment_id == comment_id).order_by(table.c.created_at, table.c.id)
            ).all()
        return [_audit_entry(row) for row in rows]

    # Copy-paste fingerprints

    def add_fingerprints(self, site_id: str, items: list[tuple[int, str, str | None]]) -> None:
        """Remember (fingerprint, article_id, comment_id) triples for the site. Fingerprints are 64-bit,
        signed or unsigned (see records.to_signed64)."""
        self.record_decisions([], site_id, items)

    def recent_fingerprints(self, site_id: str, limit: int) -> list[tuple[int, str]]:
        """The site's newest `limit` (fingerprint, article_id) pairs, newest first; fingerprints unsigned."""
        table = schema.fingerprints
        with self._read("read comment fingerprints") as conn:
            rows = conn.execute(
                select(table.c.fingerprint, table.c.article_id)
                .where(table.c.site_id == site_id)
                .order_by(table.c.created_at.desc(), table.c.id.desc())
                .limit(limit)
            ).all()
        return [(to_unsigned64(fp), article_id) for fp, article_id in rows]

    def prune_fingerprints(self, site_id: str, keep: int) -> None:
        """Delete all but the site's newest `keep` fingerprints."""
        if keep < 0:
            raise ValueError(f"keep must be >= 0, found {keep}")
        table = schema.fingerprints
        with self._write("prune comment fingerprints") as conn:
            # The keep-th newest row is the cut: everything strictly older goes. One indexed scan, no NOT IN.
            cut = conn.execute(
                select(table.c.created_at, table.c.id)
                .where(table.c.site_id == site_id)
                .order_by(table.c.created_at.desc(), table.c.id.desc())
                .offset(keep)
                .limit(1)
            ).first()
            if cut is None:
                return
            older = (table.c.created_at < cut.created_at) | (
                (table.c.created_at == cut.created_at) & (table.c.id <= cut.id)
            )
            conn.execute(delete(table).where(table.c.site_id == site_id, older))

    def count_fingerprints(self, site_id: str) -> int:
        with self._read("count comment fingerprints") as conn:
            table = schema.fingerprints
            return int(
                conn.execute(select(func.count()).select_from(table).where(table.c.site_id == site_id)).scalar_one()
            )

    # Plumbing

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        """A transaction that is committed when the block ends; the commit is inside the error translation,
        because that is where a full disk or a read-only file shows up."""
        self._ensure_ready()
        try:
            with self._write_lock, self._engine.connect() as conn:
                conn.execution_options(**{WRITE_LOCK: True})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as e:
            raise _storage_error(self.url, what, e) from e

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        self._ensure_ready()
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise _storage_error(self.url, what, e) from e


def _fingerprint_rows(site_id: str, items: list[tuple[int, str, str | None]]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "site_id": site_id,
            "fingerprint": to_signed64(fp),
            "article_id": article_id,
            "comment_id": comment_id,
            "created_at": now,
        }
        for fp, article_id, comment_id in items
    ]


def _insert_for(conn: Connection) -> Callable[[Table], Any]:
    """The dialect's INSERT, which has .on_conflict_do_update: both backends spell an upsert
    INSERT ... ON CONFLICT, but SQLAlchemy builds it per dialect."""
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(**row._asdict())


def _storage_error(url: str, what: str, error: SQLAlchemyError) -> Exception:
    """StorageError for what the database refused; ValueError for a value we could not even send (a caller's
    bug, which must not turn /readyz red)."""
    if isinstance(error, StatementError) and not isinstance(error, DBAPIError):
        return ValueError(f"could not {what}: invalid value: {error.orig}")
    cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    lowered = cause.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        fix = "make the database file and its directory writable by the service user"
    elif "disk is full" in lowered or "no space" in lowered or "disk full" in lowered:
        fix = "free disk space on the database volume"
    elif "unable to open" in lowered:
        fix = "check the file's directory exists and the service user can write to both (SQLite adds -wal and -shm files beside it)"
    elif "connection" in lowered or "could not connect" in lowered:
        fix = "check database_url and that the database server is running and reachable"
    elif "no such table" in lowered or "does not exist" in lowered or "undefined" in lowered:
        fix = "the schema is not migrated; restart the service so the Store applies its migrations"
    else:
        fix = "see the database server's log"
    return StorageError(f"database {url}: could not {what}: {cause}; {fix}")
