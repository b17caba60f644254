"""Storage for the service: articles, feedback, audit log and copy-paste fingerprints.

Pure SQLAlchemy (no FastAPI), so `training` can read feedback through the same code. SQLite by default,
PostgreSQL by URL; the schema is created and upgraded by the Alembic migrations in `migrations/`.
"""

from .errors import StorageError
from .records import Article, AuditEntry, Feedback, FeedbackIn, to_signed64, to_unsigned64
from .store import Store

__all__ = [
    "Article",
    "AuditEntry",
    "Feedback",
    "FeedbackIn",
    "StorageError",
    "Store",
    "to_signed64",
    "to_unsigned64",
]
