"""The moderator's queue keeps a held comment's text for `queue_retention_days`: this deletes what is older,
at start-up and then every PURGE_EVERY_S, whether or not anyone opens the console."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("serve.retention")

PURGE_EVERY_S = 600.0


def cutoff(days: int) -> datetime:
    """Queued texts written before this are past the retention period (0 days: everything is)."""
    return datetime.now(UTC) - timedelta(days=days)


async def purge_forever(store: Any, guard: Any, days: int, every_s: float = PURGE_EVERY_S) -> None:
    while True:
        purged = await run_in_threadpool(guard.call, "purge_queue", store.purge_queue, cutoff(days), fallback=0)
        if purged:
            log.info("deleted %d queued comment text(s) older than %d day(s)", purged, days)
        await asyncio.sleep(every_s)
