"""Feedback as training rows: the one definition both the HTTP export and `training.export_feedback` use."""

from collections.abc import Iterator
from typing import Any

from .store import Store


def training_rows(store: Store) -> Iterator[dict[str, Any]]:
    """One row per comment (per site): a moderator who corrects a decision twice leaves the later label, so
    training never sees the same comment with two labels. Two passes, so memory holds ids, not texts."""
    latest: dict[tuple[str | None, str], int] = {}
    for item in store.iter_feedback():  # ids increase with time: the last one seen is the newest
        latest[(item.site_id, item.comment_id)] = item.id
    keep = set(latest.values())
    for item in store.iter_feedback():
        if item.id in keep:
            yield item.training_row()
