"""The FastAPI application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from model.artifact import LoadedModel

from .limits import BodyLimitMiddleware
from .routes import router
from .settings import Settings
from .state import ModelHolder

log = logging.getLogger("serve")


def create_app(settings: Settings | None = None, loaded: LoadedModel | None = None) -> FastAPI:
    """Build the app. The model is loaded in the lifespan unless `loaded` is given (tests, __main__)."""
    settings = settings or Settings()
    holder = ModelHolder(settings.model_dir, loaded)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if holder.current is None:
            holder.load()  # raises ArtifactError: a service without a model must not start
        log.info("serving model %s from %s", holder.current.version, holder.current.path)
        yield

    app = FastAPI(
        title="Comment moderation",
        summary="Labels comments spam, toxic or substantive, with calibrated scores.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The offending input is not echoed back: it may be a megabyte of text, or someone's personal data.
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Logged in full for the operator; the client gets no stack trace and no file paths.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
