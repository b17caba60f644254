"""The moderator's console at /console: server-rendered pages over the queue of held comments (docs/console.md).

install(app, settings) adds it to the service: the session signer, the pages and their static files.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..settings import Settings
from .routes import STATIC, console_router
from .session import Signer


def install(app: FastAPI, settings: Settings) -> None:
    """Raises AuthConfigError for a console secret that is too short (before the service starts)."""
    app.state.console_signer = Signer.from_settings(settings)
    app.include_router(console_router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
