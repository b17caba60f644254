"""Alembic environment: runs on the connection the Store hands over (config.attributes["connection"]).

Offline SQL generation is not supported: the Store always migrates a live database at start-up.
"""

from typing import Any

from alembic import context
from sqlalchemy import text

from storage.schema import UTCDateTime, metadata


def render_item(kind: str, obj: Any, _autogen_context: Any) -> str | bool:
    # Generated migrations spell the plain SQL type, so they do not import (and change with) schema.py.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("storage migrations run through storage.migrate.upgrade(engine), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, render_item=render_item)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Several workers may start at once against one server: the first migrates, the others wait.
        connection.execute(text("SELECT pg_advisory_xact_lock(724201)"))
    context.run_migrations()
