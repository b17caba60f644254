"""Apply the Alembic migrations shipped in `migrations/` to a live database."""

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .engine import WRITE_LOCK

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's command API keeps its context in module globals (alembic.context, alembic.op): two threads
# migrating at once in one process corrupt each other. Across processes the database's own lock serialises.
_MIGRATING = threading.Lock()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}; the package is incomplete, reinstall it")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; a database already there is left untouched."""
    config = alembic_config()
    with _MIGRATING, engine.connect() as connection:
        connection.execution_options(**{WRITE_LOCK: True})
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
