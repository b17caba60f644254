"""Table definitions used by the Store's queries. The database itself is built by the migrations in
`migrations/versions/`; `tests/test_storage.py` checks the two agree, so a column added here without a
migration fails a test instead of drifting."""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

# Ids from clients (articles, comments, sites, moderators); long enough for URLs-as-ids, short enough to index;
# the same as serve.schemas.MAX_ID_CHARS.
ID_CHARS = 256


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out. SQLite keeps no zone, so naive values read back are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass a timezone-aware time (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

articles = Table(
    "articles",
    metadata,
    Column("id", String(ID_CHARS), primary_key=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("comment_id", String(ID_CHARS), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("article_id", String(ID_CHARS), nullable=True),
    Column("article_title", Text, nullable=False),
    Column("article_body", Text, nullable=False),
    Column("label", String(32), nullable=False),
    Column("moderator_id", String(ID_CHARS), nullable=False),
    Column("site_id", String(ID_CHARS), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("comment_id", String(ID_CHARS), nullable=False, index=True),
    Column("site_id", String(ID_CHARS), nullable=True),
    Column("model_version", String(ID_CHARS), nullable=False),
    Column("scores", JSON, nullable=False),
    Column("label", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("decided_action", String(32), nullable=False),
    Column("policy_version", String(ID_CHARS), nullable=False),
    Column("shadow", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("text", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("site_id", String(ID_CHARS), nullable=False),
    Column("fingerprint", BigInteger, nullable=False),
    Column("article_id", String(ID_CHARS), nullable=False),
    Column("comment_id", String(ID_CHARS), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_fingerprints_site_created", "site_id", "created_at"),
)

# One row, rewritten by Store.ping(): a health check that only reads would call a read-only or full
# database healthy, and the first feedback write would be the one to find out.
health = Table(
    "health",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("checked_at", UTCDateTime, nullable=False),
)
