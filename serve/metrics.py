"""Prometheus metrics, one registry per app (no process-global state: tests build many apps).

Routes are labelled by their template (/v1/articles/{article_id}), never the raw path, and unmatched paths
share one label, so a scanner cannot blow up the series count.
"""

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "moderation_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "moderation_http_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.predictions = Counter(
            "moderation_predictions",
            "Scored comments by predicted label and the action reported to the client",
            ["label", "action"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "moderation_decisions",
            "Policy decisions (shadow or not) by decided action",
            ["decided", "shadow"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "moderation_model_info", "The serving model (value 1)", ["version", "name"], registry=self.registry
        )
        self.storage_errors = Counter(
            "moderation_storage_errors",
            "Storage operations that failed (the request was still answered)",
            ["operation"],
            registry=self.registry,
        )
        self.reloads = Counter("moderation_reloads", "Model reloads by outcome", ["outcome"], registry=self.registry)

    def set_model(self, version: str, name: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version, name=name).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by the route that served it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # FastAPI puts the matched route into the scope; absent for 404s and middleware refusals.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route=route, method=scope["method"], status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - started)
