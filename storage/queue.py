"""The moderator's queue and the console's readout queries: a mixin of Store (storage/store.py).

The queue holds the text of comments the policy held (or would have, in shadow mode) until a moderator decides
on each, or the retention period ends: a decision writes the feedback row and the audit entry and deletes the
text in one transaction, so a comment is decided once even when two moderators press at the same moment.
Pages are read by id (keyset), so page 200 costs what page 1 does.
"""

from contextlib import AbstractContextManager
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from . import schema
from .records import MODERATOR_POLICY, AuditEntry, Queued, QueuedIn, QueuePage, QueueQuery, Resolution
from .rows import audit_rows, queue_rows

_QUEUED_FIELDS = tuple(f.name for f in fields(Queued))
# Characters LIKE treats specially, escaped in a search so that "50%" means the text "50%".
_LIKE_ESCAPE = "\\"


class QueueStore:
    """Queue and readout reads and writes; Store supplies _read, _write and the audit row helpers."""

    def _read(self, what: str) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    def _write(self, what: str) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    def list_queue(self, query: QueueQuery) -> QueuePage:
        """One page of the queue, newest first."""
        if query.limit < 1:
            raise ValueError(f"limit must be >= 1, found {query.limit}")
        table = schema.queue
        conditions = _conditions(query)
        newer_first = query.after is None
        if query.before is not None:
            conditions.append(table.c.id < query.before)
        if query.after is not None:
            conditions.append(table.c.id > query.after)
        order = table.c.id.desc() if newer_first else table.c.id.asc()
        with self._read("read the moderation queue") as conn:
            rows = conn.execute(select(table).where(*conditions).order_by(order).limit(query.limit + 1)).all()
        items = [_queued(row) for row in rows[: query.limit]]
        if not newer_first:
            items.reverse()
        if not items:
            return QueuePage([], None, None)
        # Whether anything lies past either end of the page: two indexed look-ups of one row each.
        older = items[-1].id if self._exists(query, table.c.id < items[-1].id) else None
        newer = items[0].id if self._exists(query, table.c.id > items[0].id) else None
        return QueuePage(items, older, newer)

    def _exists(self, query: QueueQuery, extra: Any) -> bool:
        table = schema.queue
        with self._read("read the moderation queue") as conn:
            return conn.execute(select(table.c.id).where(*_conditions(query), extra).limit(1)).first() is not None

    def count_queue(self, query: QueueQuery) -> int:
        with self._read("count the moderation queue") as conn:
            stmt = select(func.count()).select_from(schema.queue).where(*_conditions(query))
            return int(conn.execute(stmt).scalar_one())

    def get_queued(self, ids: list[int]) -> list[Queued]:
        table = schema.queue
        with self._read("read the moderation queue") as conn:
            rows = conn.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id.desc())).all()
        return [_queued(row) for row in rows]

    def queue_sites(self, sites: frozenset[str] | None) -> list[str]:
        """The sites with something in the queue, among `sites` (None: all)."""
        table = schema.queue
        stmt = select(table.c.site_id).distinct().order_by(table.c.site_id)
        if sites is not None:
            stmt = stmt.where(table.c.site_id.in_(sorted(sites)))
        with self._read("read the moderation queue") as conn:
            return [row[0] for row in conn.execute(stmt)]

    def add_to_queue(self, items: list[QueuedIn]) -> None:
        """Queue comments by themselves (the service queues through record_decisions, with their audit)."""
        rows = queue_rows(items)
        if rows:
            with self._write("add to the moderation queue") as conn:
                conn.execute(insert(schema.queue), rows)

    def resolve_queued(self, resolutions: list[Resolution]) -> list[int]:
        """Record moderators' decisions: per queued comment, its feedback row and audit entry, and its text
        deleted (every queued copy of the same comment on the same site). All in one transaction. Returns the
        ids decided; an id already decided (or purged) is skipped, so nothing is recorded twice."""
        done: list[int] = []
        table = schema.queue
        with self._write("record the moderator's decision") as conn:
            for res in resolutions:
                row = conn.execute(
                    select(table.c.site_id, table.c.comment_id).where(table.c.id == res.queued_id)
                ).first()
                if row is None:
                    continue
                conn.execute(delete(table).where(table.c.site_id == row.site_id, table.c.comment_id == row.comment_id))
                values = asdict(res.feedback)
                values["created_at"] = res.feedback.created_at or datetime.now(UTC)
                conn.execute(insert(schema.feedback).values(**values))
                conn.execute(insert(schema.audit), audit_rows([res.audit]))
                done.append(res.queued_id)
        return done

    def purge_queue(self, before: datetime) -> int:
        """Delete the text of every queued comment older than `before` (the retention period); the count."""
        table = schema.queue
        with self._write("purge the moderation queue") as conn:
            return int(conn.execute(delete(table).where(table.c.created_at < before)).rowcount or 0)

    # The readout

    def decision_counts(
        self, since: datetime, sites: frozenset[str] | None
    ) -> list[tuple[str, str, str, str, bool, int]]:
        """(site, UTC day, decided action, label, shadow, count) of the policy's decisions since `since`;
        moderators' own entries left out. Site "" for comments sent without one."""
        table = schema.audit
        with self._read("read the audit log") as conn:
            day = _utc_day(conn, table.c.created_at)
            site = func.coalesce(table.c.site_id, "")
            stmt = (
                select(site, day, table.c.decided_action, table.c.label, table.c.shadow, func.count())
                .where(table.c.created_at >= since, table.c.policy_version != MODERATOR_POLICY)
                .group_by(site, day, table.c.decided_action, table.c.label, table.c.shadow)
            )
            if sites is not None:
                stmt = stmt.where(site.in_(sorted(sites)))
            rows = conn.execute(stmt).all()
        return [(s, str(d), a, lab, bool(sh), int(n)) for s, d, a, lab, sh, n in rows]

    def moderator_decisions(self, since: datetime, sites: frozenset[str] | None, limit: int) -> list[AuditEntry]:
        """The newest `limit` audit entries moderators wrote (the console) since `since`: model scores and
        the moderator's label side by side, what agreement and the what-if are computed from."""
        table = schema.audit
        site = func.coalesce(table.c.site_id, "")
        stmt = (
            select(table)
            .where(table.c.created_at >= since, table.c.policy_version == MODERATOR_POLICY)
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        if sites is not None:
            stmt = stmt.where(site.in_(sorted(sites)))
        with self._read("read the audit log") as conn:
            return [AuditEntry(**row._asdict()) for row in conn.execute(stmt)]


def _conditions(query: QueueQuery) -> list[Any]:
    table = schema.queue
    out: list[Any] = []
    if query.sites is not None:
        out.append(table.c.site_id.in_(sorted(query.sites)))
    if query.site is not None:
        out.append(table.c.site_id == query.site)
    if query.label:
        out.append(table.c.flagged == query.label)
    if query.action:
        out.append(table.c.decided_action == query.action)
    if query.since is not None:
        out.append(table.c.created_at >= query.since)
    if query.until is not None:
        out.append(table.c.created_at < query.until)
    if query.search:
        escaped = "".join(_LIKE_ESCAPE + c if c in "%_\\" else c for c in query.search)
        out.append(table.c.text.ilike(f"%{escaped}%", escape=_LIKE_ESCAPE))
    return out


def _utc_day(conn: Connection, column: Any) -> Any:
    # SQLite keeps UTC text ("2026-12-06 07:42:00"); PostgreSQL's date() would use the session's time zone.
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)


def _queued(row: Any) -> Queued:
    values = row._asdict()
    return Queued(**{name: values[name] for name in _QUEUED_FIELDS})
