"""Storage: articles, feedback, audit log and copy-paste fingerprints.

A top-level package because it is a role, not a part of one program: the service (serve/) writes and reads
it, training (training/) reads the moderators' feedback from it, and it imports neither. Pure SQLAlchemy
(no FastAPI), so both use the same code. SQLite by default, PostgreSQL by URL; the schema is created and
upgraded by the Alembic migrations in `migrations/`.
"""

from .errors import StorageError
from .records import (
    MODERATOR_POLICY,
    Article,
    AuditEntry,
    Feedback,
    FeedbackIn,
    Queued,
    QueuedIn,
    QueuePage,
    QueueQuery,
    Resolution,
    to_signed64,
    to_unsigned64,
)
from .store import Store

__all__ = [
    "MODERATOR_POLICY",
    "Article",
    "AuditEntry",
    "Feedback",
    "FeedbackIn",
    "QueuePage",
    "QueueQuery",
    "Queued",
    "QueuedIn",
    "Resolution",
    "StorageError",
    "Store",
    "to_signed64",
    "to_unsigned64",
]
