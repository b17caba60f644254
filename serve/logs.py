"""Log lines as text or as JSON (MODERATION_LOG_FORMAT), each tagged with the id of the request it belongs to.

Every HTTP request gets an id (RequestIdMiddleware): the client's own `X-Request-ID` when it is a sane
token, else a new one. It is returned as `X-Request-ID` and, held in a context variable, added to every line
logged while the request is handled, uvicorn's included. JSON: one object per line, with time, level,
logger, message and request_id (plus the traceback as `exc_info` when there is one).
"""

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from .limits import ASGIApp, Message, Receive, Scope, Send

TEXT, JSON = "text", "json"
LOG_FORMATS = (TEXT, JSON)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HEADER = "X-Request-ID"
# Letters, digits and . _ : - up to 128: what proxies and tracing systems send, and nothing that could
# forge a log line or smuggle a header. Anything else is replaced, not echoed back.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("serve.request")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """One handler on the root logger, to stderr. With JSON, uvicorn must be started with log_config=None
    (uvicorn_log_config) so that its loggers reach this handler instead of its own."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {list(LOG_FORMATS)}; set MODERATION_LOG_FORMAT")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == JSON else logging.Formatter(TEXT_FORMAT))
    # A Python warning would otherwise be printed as text among the JSON lines.
    logging.captureWarnings(fmt == JSON)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def uvicorn_log_config(fmt: str) -> dict[str, object]:
    """uvicorn's own log setup for text (its defaults, as before); none for JSON, so it logs through ours."""
    return {} if fmt == TEXT else {"log_config": None}


class RequestIdMiddleware:
    """Gives each HTTP request its id; logs one debug line per request (method, path, status, time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (HEADER.lower().encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            # The path only: a query string could hold anything. No client address (SECURITY.md).
            log.debug(
                "%s %s -> %d in %.1f ms", scope["method"], scope["path"], status, (time.perf_counter() - started) * 1e3
            )
            request_id.reset(token)
