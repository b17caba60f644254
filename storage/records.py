"""Plain records the Store takes and returns; no SQLAlchemy objects leave storage."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Fingerprints are 64-bit SimHash values. The Store accepts them unsigned (0 .. 2**64-1) or signed
# (-2**63 .. 2**63-1), keeps them as a signed BIGINT (the widest integer both SQLite and PostgreSQL have),
# and always hands them back UNSIGNED, so `(a ^ b).bit_count()` is the Hamming distance without masking.
FINGERPRINT_BITS = 64
_MASK64 = (1 << FINGERPRINT_BITS) - 1


def to_signed64(value: int) -> int:
    """The signed 64-bit integer with the same bits as `value` (unsigned or already signed)."""
    if not -(1 << 63) <= value <= _MASK64:
        raise ValueError(f"fingerprint {value} does not fit in 64 bits; expected 0 <= value < 2**64")
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    """The unsigned 64-bit integer with the same bits as `value`."""
    return value & _MASK64


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    url: str
    updated_at: datetime


@dataclass(frozen=True)
class FeedbackIn:
    """A moderator's decision as the route received it. The article is a snapshot of what the moderator
    saw: training must not change meaning when the stored article is edited later."""

    comment_id: str
    text: str
    label: str
    moderator_id: str
    article_id: str | None = None
    article_title: str = ""
    article_body: str = ""
    site_id: str | None = None
    # None: the Store stamps the time of the write (UTC).
    created_at: datetime | None = None


@dataclass(frozen=True)
class Feedback:
    id: int
    comment_id: str
    text: str
    label: str
    moderator_id: str
    article_id: str | None
    article_title: str
    article_body: str
    site_id: str | None
    created_at: datetime

    def training_row(self) -> dict[str, Any]:
        """The row in training format (training.data columns), `source` saying where it came from."""
        return {
            "id": f"feedback-{self.id}",
            "text": self.text,
            "label": self.label,
            "article_id": self.article_id or "",
            "article_title": self.article_title,
            "article_body": self.article_body,
            "source": "feedback",
        }


@dataclass(frozen=True)
class AuditEntry:
    """One decision on one comment. `action` is what the client was told (always "approve" in shadow mode),
    `decided_action` is what the policy decided. `text` is stored as given: the caller leaves it None
    unless the `store_text` setting is on."""

    comment_id: str
    model_version: str
    scores: dict[str, float]
    label: str
    action: str
    decided_action: str
    policy_version: str
    shadow: bool = False
    reasons: list[Any] = field(default_factory=list)
    site_id: str | None = None
    text: str | None = None
    # None on the way in: the Store stamps the time of the write (UTC). Set on entries it returns.
    created_at: datetime | None = None
    id: int | None = None


# What `policy_version` says on an audit entry a moderator wrote (the console), rather than the policy.
MODERATOR_POLICY = "moderator"


@dataclass(frozen=True)
class QueuedIn:
    """A comment for the moderator's queue, as the service decided it. `site_id` "" when it named none."""

    comment_id: str
    site_id: str
    text: str
    label: str
    flagged: str
    action: str
    decided_action: str
    shadow: bool
    scores: dict[str, float]
    reasons: list[Any]
    phrases: dict[str, list[str]]
    model_version: str
    policy_version: str
    article_id: str | None = None
    article_title: str = ""
    article_body: str = ""
    created_at: datetime | None = None  # None: the Store stamps the time of the write


@dataclass(frozen=True)
class Queued(QueuedIn):
    id: int = 0


@dataclass(frozen=True)
class QueueQuery:
    """Which page of the queue to read. `sites` None: every site; else only those (a key tied to sites)."""

    sites: frozenset[str] | None = None
    site: str | None = None
    label: str | None = None  # the flagged label
    action: str | None = None  # the policy's decided action: hold or reject
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # a substring of the text, any case
    before: int | None = None  # keyset cursor: ids below this (older)
    after: int | None = None  # keyset cursor: ids above this (newer)
    limit: int = 50


@dataclass(frozen=True)
class QueuePage:
    items: list[Queued]
    older: int | None  # the cursor for the next older page (`before`), None at the end
    newer: int | None  # the cursor for the next newer page (`after`), None at the start


@dataclass(frozen=True)
class Resolution:
    """A moderator's decision on one queued comment: the feedback row and the audit entry it writes."""

    queued_id: int
    feedback: FeedbackIn
    audit: AuditEntry
