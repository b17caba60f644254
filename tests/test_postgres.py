"""The Store contract against a real PostgreSQL server: the one `.ci/run` starts on loopback and names in
MODERATION_TEST_POSTGRES_URL. Each test gets its own schema, dropped afterwards, so nothing else in that
database is touched."""

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from storage import FeedbackIn, StorageError, Store
from storage.engine import parse_url
from tests.store_contract import StoreContract

ENV = "MODERATION_TEST_POSTGRES_URL"
BASE_URL = os.environ.get(ENV, "")

pytestmark = [
    pytest.mark.slow,  # a real PostgreSQL server, started by .ci/run
    pytest.mark.skipif(
        not BASE_URL,
        reason=f"{ENV} is not set: .ci/run starts a PostgreSQL server and sets it (postgresql://user:pass@host:port/db)",
    ),
]


def _with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture()
def pg_url() -> Iterator[str]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parse_url(BASE_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_schema(BASE_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class TestPostgresStore(StoreContract):
    @pytest.fixture()
    def url(self, pg_url: str) -> str:
        return pg_url


def test_tables_live_in_the_schema_the_url_names(pg_url: str) -> None:
    Store(pg_url).close()
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    engine = create_engine(parse_url(BASE_URL))
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
        ).scalars()
        assert {"feedback", "audit", "alembic_version"} <= set(tables)
    engine.dispose()


def test_two_stores_starting_together_migrate_once(pg_url: str) -> None:
    # Two service workers starting at once: the advisory lock makes the second wait, then find head.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        stores = list(pool.map(lambda _: Store(pg_url), range(2)))
    first, second = stores
    ident = first.add_feedback(FeedbackIn("c", "t", "toxic", "m"))
    assert [f.id for f in second.iter_feedback()] == [ident]
    for s in stores:
        s.close()


def test_wrong_password_is_a_storage_error_without_the_password() -> None:
    url = parse_url(BASE_URL).set(password="definitely-wrong-pw")
    store = Store(url.render_as_string(hide_password=False))
    with pytest.raises(StorageError) as info:
        store.ping()
    assert "definitely-wrong-pw" not in str(info.value)
    assert "password authentication failed" in str(info.value)
    store.close()
