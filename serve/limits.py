"""ASGI middleware for what must be refused before the body is parsed: size (413) and type (415)."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {b"POST", b"PUT", b"PATCH", "POST", "PUT", "PATCH"}
# Sent with every answer given before the body was read, so the server never reads the rest of it.
CLOSE = {"Connection": "close"}


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes` (stops reading there), 415 for bodies that are not JSON; under
    `form_prefix` (the console's pages) an HTML form's urlencoded body is taken too."""

    def __init__(self, app: ASGIApp, max_bytes: int, form_prefix: str | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_prefix = form_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_form = (
            self.form_prefix is not None
            and str(scope.get("path", "")).startswith(self.form_prefix)
            and media_type == b"application/x-www-form-urlencoded"
        )
        if media_type != b"application/json" and not media_type.endswith(b"+json") and not is_form:
            # The header's value is not repeated: answers never echo what the client sent.
            found = "a different type" if media_type else "none"
            await _error(send, 415, f"Content-Type must be application/json, found {found}")
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _error(send, 413, f"request body of {int(declared)} bytes is over the {self.max_bytes}-byte limit")
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading, so this becomes the response.
                    # `Connection: close` makes uvicorn drop the connection once it is sent: without it,
                    # uvicorn keeps the connection for the next request and reads (and discards) the rest
                    # of the body, however long the client goes on sending.
                    raise HTTPException(413, f"request body is over the {self.max_bytes}-byte limit", headers=CLOSE)
            return message

        await self.app(scope, limited_receive, send)


async def _error(send: Send, status: int, message: str) -> None:
    import json

    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
