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
    # The console's readout reads the audit log by day (serve/console/readout.py).
    Index("ix_audit_created_at", "created_at"),
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

# The moderator's queue (storage/queue.py): the text of a comment the policy held (or, in shadow mode, would
# have held or rejected), kept until a moderator decides on it or the retention period ends. Nothing else
# in the database keeps a comment's words unless the `store_text` setting is on.
queue = Table(
    "queue",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("comment_id", String(ID_CHARS), nullable=False),
    Column("site_id", String(ID_CHARS), nullable=False),  # "" for a comment sent without a site_id
    Column("article_id", String(ID_CHARS), nullable=True),
    # A snapshot of the article, so the moderator's decision becomes a complete training row.
    Column("article_title", Text, nullable=False),
    Column("article_body", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("label", String(32), nullable=False),  # the model's most likely label
    Column("flagged", String(32), nullable=False),  # the label whose threshold held it (what "reject" confirms)
    Column("action", String(32), nullable=False),  # what the client was told
    Column("decided_action", String(32), nullable=False),  # what the policy decided (hold or reject)
    Column("shadow", Boolean, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("phrases", JSON, nullable=False),  # {label: [phrase, ...]}: the explanation, highlighted in the text
    Column("model_version", String(ID_CHARS), nullable=False),
    Column("policy_version", String(ID_CHARS), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Pages are read newest first by id (keyset paging), per site or over the sites a key may see.
    Index("ix_queue_site_id", "site_id", "id"),
    Index("ix_queue_created_at", "created_at"),  # the retention purge
    Index("ix_queue_comment_id", "comment_id"),
)

# One row, rewritten by Store.ping(): a health check that only reads would call a read-only or full
# database healthy, and the first feedback write would be the one to find out.
health = Table(
    "health",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("checked_at", UTCDateTime, nullable=False),
)
