"""The FastAPI application factory."""

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.artifact import LoadedModel
from model.embeddings import set_threads
from model.policy import load_policy
from storage import Store

from . import console
from .auth import add_security_schemes, check_open_mode, load_keyring
from .copypaste import CopyPasteIndex
from .coral import coral_router
from .guard import StorageGuard
from .limits import BodyLimitMiddleware, Message, Receive, Scope, Send
from .logs import HEADER as REQUEST_ID_HEADER
from .logs import RequestIdMiddleware
from .metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from .perspective import PerspectiveError, perspective_error, perspective_router
from .perspective_discovery import discovery_router
from .predict import new_batcher
from .ratelimit import RateLimitMiddleware
from .retention import purge_forever
from .routes import router
from .routes_admin import admin_router
from .routes_data import admin_data_router, data_router
from .settings import Settings
from .state import fits_policy
from .version import package_version
from .warm import WarmModelHolder, settle_heap, warm_up

log = logging.getLogger("serve")


def create_app(
    settings: Settings | None = None, loaded: LoadedModel | None = None, after_reload: Callable[[], None] | None = None
) -> FastAPI:
    """Build the app. The model and the database are opened in the lifespan; `loaded` skips the model load.

    after_reload: called once POST /v1/admin/reload has reloaded this process's model; a worker of
    `python -m serve --workers N` passes what tells the parent, so the other workers reload too
    (serve/workers.py). Nothing by default.

    Bad configuration (policy file, thresholds for labels the model lacks, API keys, open mode on a public
    address) fails here, before serving.
    """
    settings = settings or Settings()
    holder = WarmModelHolder(settings.model_dir, loaded)
    metrics = Metrics()
    keyring = load_keyring(settings)
    check_open_mode(keyring, settings)
    policy = load_policy(settings.policy_file)
    fits = fits_policy(policy, settings.policy_file)
    if loaded is not None:
        fits(loaded)  # a policy threshold for a label the model lacks is refused here, before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.embedding_threads:
            set_threads(settings.embedding_threads)  # before the warm-up, which starts the runtime
        if holder.current is None:
            holder.load(fits)  # raises ArtifactError or PolicyError: a service without a model must not start
        else:
            warm_up(holder.current)
        # Only a bad URL or a schema newer than this code stops the start (StorageError names it); a
        # database that is merely unavailable (read-only, full, server down) degrades the service and
        # is retried, see storage/store.py and serve/guard.py.
        store = Store(settings.database_url)
        app.state.store = store
        app.state.guard = StorageGuard(store, metrics)
        app.state.index = CopyPasteIndex(
            settings.copypaste_index_size, settings.copypaste_max_distance, loader=_fingerprint_loader(store)
        )
        metrics.set_model(holder.current.version, holder.current.name)
        settle_heap()  # after everything long-lived exists: the model, the store, the copy-paste index
        log.info("serving model %s, policy %s", holder.current.version, policy.version)
        purging = asyncio.create_task(purge_forever(store, app.state.guard, settings.queue_retention_days))
        try:
            yield
        finally:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
            store.close()

    app = FastAPI(
        title="Comment moderation",
        summary="Labels comments spam, toxic or substantive with calibrated scores, and decides what to do.",
        version=package_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.keyring = keyring
    app.state.policy = policy
    app.state.batcher = new_batcher()
    app.state.after_reload = after_reload or _nothing
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(coral_router)
    app.include_router(perspective_router)  # checks its keys itself: Perspective clients send `?key=`
    app.include_router(discovery_router)  # public, as /openapi.json: what Google's client library reads
    app.include_router(data_router)  # scopes are declared on each route (serve/auth.py)
    app.include_router(admin_data_router)
    console.install(app, settings)  # /console: pages for moderators, outside the API and its OpenAPI document
    app.add_api_route(
        "/metrics",
        _metrics_endpoint,
        methods=["GET"],
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
    )
    add_security_schemes(app)
    app.add_middleware(_HeadAsGet)  # innermost: everything outside still sees the HEAD
    # The console's forms post application/x-www-form-urlencoded; everything else takes JSON only.
    app.add_middleware(_EmptyBodyAllowed, max_bytes=settings.max_body_bytes, form_prefix="/console/")
    if settings.rate_limit_per_minute > 0:
        # Outside the body limit: a client over its rate is refused before a byte of its body is read.
        app.add_middleware(
            RateLimitMiddleware,
            per_minute=settings.rate_limit_per_minute,
            is_known=lambda key: keyring.find(key) is not None,
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],  # a page may read the id to report a problem
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outside the refusals, so it sees 413/415 too
    # Outermost: every answer, refusals and 500s included, carries the id its log lines carry.
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PerspectiveError, perspective_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


class _EmptyBodyAllowed(BodyLimitMiddleware):
    """BodyLimitMiddleware, except that a POST with no body at all (POST /v1/admin/reload) needs no
    Content-Type: `curl -X POST` sends none, and there is nothing to parse."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        empty = headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers
        if empty and b"content-type" not in headers:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _HeadAsGet:
    """HEAD answers like GET, without the body. Starlette routes allow HEAD wherever they allow GET, FastAPI's
    do not (a HEAD got 405 with `Allow: GET, HEAD`); declaring HEAD on each route would double every GET
    operation in the OpenAPI schema. So the route sees a GET, and the body is dropped on the way out; the
    headers (Content-Length included) are the GET's."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def _nothing() -> None:
    pass


def _fingerprint_loader(store: Any) -> Callable[[str, int], list[tuple[int, str | None]]]:
    def load(site: str, limit: int) -> list[tuple[int, str | None]]:
        # "" is how a comment with no known article is stored (the column is not nullable).
        return [(fp, article or None) for fp, article in store.recent_fingerprints(site, limit)]

    return load


def _metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics (open, like /healthz: counts and latencies, no comment data)."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The offending input is not echoed back: it may be a megabyte of text, or someone's personal data.
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


# Method names an OpenAPI path item may hold (it also holds "parameters", "summary" and the like).
_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own answer, except that a 405's `Allow` lists every method the path has: Starlette names only
    the first route that matched the path, and GET and PUT /v1/articles/{id} are two routes."""
    if exc.status_code == 405:
        methods = set((exc.headers or {}).get("Allow", "").replace(" ", "").split(",")) - {""}
        for template, item in request.app.openapi().get("paths", {}).items():  # built once, then cached
            # ".+": the ids in this API's paths may hold "/" ({article_id:id}).
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", ".+", re.escape(template)), request.scope["path"]):
                methods |= {m.upper() for m in item} & _METHODS
        if "GET" in methods:
            methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
        exc = StarletteHTTPException(405, exc.detail, {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))})
    return await http_exception_handler(request, exc)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Logged in full for the operator; the client gets no stack trace and no file paths.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
