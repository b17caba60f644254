"""Storage must not take predictions down with it: failed storage calls are logged, counted and reported.

Every Store call the scoring path makes goes through StorageGuard.call. A failure returns the caller's
fallback, increments moderation_storage_errors_total{operation}, and makes /readyz say "degraded" with the
operation that failed, until a minute passes without another failure.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .metrics import Metrics

log = logging.getLogger("serve.storage")

T = TypeVar("T")
# How long /readyz keeps reporting a failure after the last one.
DEGRADED_FOR_SECONDS = 60.0


class StorageGuard:
    def __init__(self, store: Any, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self._lock = threading.Lock()
        self._last_failure: tuple[float, str] | None = None

    def call(self, operation: str, fn: Callable[..., T], *args: Any, fallback: T) -> T:
        try:
            return fn(*args)
        except Exception as e:  # any storage failure: the prediction is answered, the operator is told
            # Only the type goes to /readyz: messages can carry file paths or database URLs.
            log.error("storage %s failed; serving without it: %s: %s", operation, type(e).__name__, e)
            self.metrics.storage_errors.labels(operation=operation).inc()
            with self._lock:
                self._last_failure = (time.monotonic(), f"storage {operation} failed ({type(e).__name__})")
            return fallback

    def problem(self) -> str | None:
        """Why storage is degraded (pinging it now), or None when it is healthy."""
        ok = self.call("ping", self._ping, fallback=False)
        with self._lock:
            last = self._last_failure
        if last and (not ok or time.monotonic() - last[0] < DEGRADED_FOR_SECONDS):
            return last[1]
        return None

    def _ping(self) -> bool:
        self.store.ping()
        return True
