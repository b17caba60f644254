"""Rate limits per API key (or per client address when no key is sent): a token bucket as ASGI middleware.

Each client gets a bucket of `burst` tokens refilled at `per_minute / 60` tokens a second; a request takes
one token, and a request that finds the bucket empty is answered 429 with `Retry-After` (whole seconds until
a token is back) before any body is read or any model runs.

Who a client is:
- a request carrying a *known* API key (`Authorization: Bearer <key>` or `X-API-Key`) is counted against
  that key, wherever it comes from, so one tenant behind a NAT cannot starve another;
- anything else (no key, or a key the `is_known` check rejects) is counted against the client address, so
  sending random keys does not buy a fresh bucket per request.
Keys are held only as a truncated SHA-256 digest, never as given, and never logged.

Buckets live in this process: with N uvicorn workers a client may get up to N times the limit. The table is
bounded (`max_clients`, least recently seen dropped first) so a flood of addresses cannot grow memory.
Health, readiness and metrics are exempt: probes must not be refused because a client is noisy.
"""

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics")
# 100,000 buckets are ~20 MB of Python objects: far more distinct clients than a moderation API sees.
MAX_CLIENTS = 100_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`burst` tokens per client, refilled at `rate` tokens a second. Not thread-safe: one event loop uses it."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 tokens per second, found {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, found {burst}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, found {max_clients}")
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token for `client`. Returns 0.0 if it was allowed, else the seconds until a token is back."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = Bucket(float(self.burst), now)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # least recently seen; it comes back with a full bucket
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def presented_key(scope: Scope) -> str | None:
    """The API key in the request headers, read the same way as serve/auth.py reads it."""
    headers = {k.lower(): v for k, v in scope.get("headers", [])}
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def client_id(scope: Scope, is_known: Callable[[str], bool] | None) -> str:
    """ "key:<digest>" for a known key, else "addr:<client host>"."""
    key = presented_key(scope)
    if key is not None and (is_known is None or is_known(key)):
        return "key:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """429 with Retry-After once a client has used its burst faster than `per_minute` refills it.

    `is_known(key)` says whether a presented API key is a real one (the app passes its keyring's check);
    without it every presented key gets its own bucket, which is only safe when keys are required anyway.
    """

    def __init__(
        self,
        app: ASGIApp,
        per_minute: float,
        burst: int | None = None,
        is_known: Callable[[str], bool] | None = None,
        exempt: Iterable[str] = EXEMPT_PATHS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        # Default burst: one minute's worth, so a client that paces itself never sees a 429.
        self.buckets = TokenBuckets(per_minute / 60.0, burst or max(1, int(per_minute)), max_clients, clock)
        self.is_known = is_known
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_id(scope, self.is_known))
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "detail": f"rate limit of {self.per_minute:g} requests a minute exceeded; "
                f"retry after {retry_after} s (see the Retry-After header)"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
