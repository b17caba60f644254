"""Rows as the tables take them, from the records callers pass: checked as plain JSON before the
transaction, so both backends refuse an unserialisable value the same way."""

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from .engine import dumps_json
from .records import AuditEntry, QueuedIn

_AUDIT_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "id")


def audit_rows(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for entry in entries:
        # Shallow: dataclasses.asdict deep-copies scores and reasons, which plain_json rebuilds anyway, and
        # that copy was a quarter of the service's audit write (a hot path: one per request).
        values = {name: getattr(entry, name) for name in _AUDIT_FIELDS}
        values["created_at"] = entry.created_at or now
        values["scores"] = plain_json(entry.scores)
        values["reasons"] = plain_json(entry.reasons)
        rows.append(values)
    return rows


def plain_json(value: Any) -> Any:
    """The value as plain JSON types (numpy floats become floats), checked before the transaction, so both
    backends refuse an unserialisable value the same way: a ValueError, the caller's bug, not a StorageError."""
    try:
        return json.loads(dumps_json(value))
    except (TypeError, ValueError) as e:
        raise ValueError(f"could not write the audit log: invalid value: {e}") from e


def queue_rows(items: list[QueuedIn]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for item in items:
        values = {f.name: getattr(item, f.name) for f in fields(QueuedIn)}
        values["created_at"] = item.created_at or now
        for name in ("scores", "reasons", "phrases"):
            values[name] = plain_json(values[name])
        rows.append(values)
    return rows
