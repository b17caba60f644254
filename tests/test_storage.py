"""The Store on a real SQLite file: the shared contract, plus what only SQLite has (WAL, durability across
kill -9, read-only and full files, URLs)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from storage import FeedbackIn, StorageError, Store
from storage.engine import SQLITE_SYNCHRONOUS
from tests.conftest import ROOT
from tests.store_contract import StoreContract

# PRAGMA synchronous reports a number: 1 NORMAL, 2 FULL, 3 EXTRA.
SYNCHRONOUS_LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


class TestSqliteStore(StoreContract):
    @pytest.fixture()
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'db' / 'moderation.sqlite3'}"


def test_creates_the_file_and_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "m.sqlite3"
    Store(f"sqlite:///{path}").close()
    assert path.is_file()


def test_wal_mode_and_synchronous_level(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    with store._engine.connect() as conn:  # the Store's own pooled connection, pragmas as set on connect
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == SYNCHRONOUS_LEVELS[SQLITE_SYNCHRONOUS]
    store.close()
    assert (tmp_path / "m.sqlite3-wal").exists() or (tmp_path / "m.sqlite3").stat().st_size > 0


def test_writers_in_one_process_queue_instead_of_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With no busy timeout, a writer that meets another's lock fails at once with "database is locked". The
    # request threads of one worker queue on the Store's own lock first, so none of them ever meets it.
    from concurrent.futures import ThreadPoolExecutor

    from storage import engine as engine_module
    from tests.store_contract import audit_entry

    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_S", 0.0)
    store = Store(f"sqlite:///{tmp_path / 'm.sqlite3'}")

    def write(t: int) -> None:
        for i in range(40):
            store.record_decisions([audit_entry(f"t{t}-{i}")], "s", [(i, f"a{t}", f"t{t}-{i}")])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))  # re-raises any StorageError
    assert store.count_fingerprints("s") == 8 * 40
    store.close()


def test_worker_processes_queue_on_the_lock_file_instead_of_failing(tmp_path: Path) -> None:
    # The same across processes (python -m serve --workers N): they queue on <database>-writelock, so with no busy
    # timeout at all, two processes writing flat out still never meet SQLite's lock.
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    Store(url).close()
    script = (
        "import sys\n"
        "from storage import engine\n"
        "engine.SQLITE_BUSY_TIMEOUT_S = 0.0\n"
        "from storage import Store\n"
        "from tests.store_contract import audit_entry\n"
        f"s = Store({url!r})\n"
        "tag = sys.argv[1]\n"
        "for i in range(150):\n"
        "    s.record_decisions([audit_entry(f'{tag}{i}')], 's', [(i, tag, f'{tag}{i}')])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, tag], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    store = Store(url)
    assert store.count_fingerprints("s") == 300
    store.close()
    assert (tmp_path / "m.sqlite3-writelock").exists()


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    # A writer prints each id only after add_feedback returned (the moment the service would send its 201),
    # then is killed mid-stream. Every printed id must be in the file afterwards.
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    Store(url).close()
    script = (
        "import sys\n"
        "from storage import FeedbackIn, Store\n"
        f"s = Store({url!r})\n"
        "i = 0\n"
        "while True:\n"
        "    n = s.add_feedback(FeedbackIn(f'c{i}', 'text ' * 50, 'spam', 'm'))\n"
        "    print(n, flush=True)\n"
        "    i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged = [int(proc.stdout.readline()) for _ in range(200)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stored = {f.id for f in Store(url).iter_feedback()}
    assert set(acknowledged) <= stored


def test_read_only_database_raises_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    writable = Store(f"sqlite:///{path}")
    writable.put_article("a1", "T", "B", "")
    writable.close()
    # mode=ro makes SQLite itself refuse writes, which also holds when the tests run as root (chmod would not).
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert store.get_article("a1") is not None  # reads still work
    with pytest.raises(StorageError, match="readonly.*make the database file and its directory writable"):
        store.ping()
    with pytest.raises(StorageError, match="could not store the feedback"):
        store.add_feedback(FeedbackIn("c", "t", "spam", "m"))
    store.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files; the mode=ro test covers this")
def test_read_only_file_permissions_raise_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    Store(f"sqlite:///{path}").close()
    for p in tmp_path.iterdir():
        p.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        # Depending on whether the -wal/-shm files survived, either opening or the first write fails.
        with pytest.raises(StorageError, match="writable|can write to both"):
            Store(f"sqlite:///{path}").ping()
    finally:
        tmp_path.chmod(0o755)


def test_full_database_raises_storage_error(tmp_path: Path) -> None:
    # SQLite's page cap gives the same SQLITE_FULL error a full disk does, without filling a disk.
    store = Store(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    with store._engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    store.close()

    @event.listens_for(store._engine, "connect")
    def cap(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 2}")

    with pytest.raises(StorageError, match="full.*free disk space"):
        for i in range(20):
            store.add_feedback(FeedbackIn(f"c{i}", "x" * 5000, "spam", "m"))
    store.close()


def test_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    Store(f"sqlite:///{path}").close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    with pytest.raises(StorageError, match="written by a newer version"):
        Store(f"sqlite:///{path}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
        ("mysql://u@h/db", "unsupported backend 'mysql'"),
        ("not a url", "not a valid URL"),
    ],
)
def test_bad_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        Store(url)


def test_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    from tests.conftest import free_port

    url = f"postgresql://user:s3cret@127.0.0.1:{free_port()}/db?connect_timeout=2"
    store = Store(url)  # a database that is down does not stop the service from starting...
    for _ in range(2):  # ...every call says why, the second from the cached failure
        with pytest.raises(StorageError) as info:
            store.ping()
        assert "s3cret" not in str(info.value)
        assert "database server is running" in str(info.value)
    store.close()


def test_database_unavailable_at_start_recovers_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import store as store_module

    monkeypatch.setattr(store_module, "MIGRATE_RETRY_S", 0.0)
    path = tmp_path / "m.sqlite3"
    path.mkdir()  # a directory where the file should be: SQLite cannot open it
    store = Store(f"sqlite:///{path}")
    with pytest.raises(StorageError, match="could not open and migrate the database: unable to open"):
        store.add_feedback(FeedbackIn("c", "t", "spam", "m"))
    path.rmdir()  # the operator fixes it; the next call migrates and writes
    ident = store.add_feedback(FeedbackIn("c", "t", "spam", "m"))
    assert [f.id for f in store.iter_feedback()] == [ident]
    store.ping()
    store.close()


def test_directory_that_cannot_be_created_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot create the directory"):
        Store(f"sqlite:///{blocker / 'm.sqlite3'}")


def test_maintenance_cli_upgrades_and_reports_the_revision(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from storage.__main__ import main
    from storage.migrate import head_revision

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    assert main(["current", "--database", url]) == 0
    assert f"database: None; newest known: {head_revision()}" in capsys.readouterr().out
    assert main(["upgrade", "--database", url]) == 0
    assert main(["current", "--database", url]) == 0
    assert f"database: {head_revision()}; newest known" in capsys.readouterr().out
    blocked = tmp_path / "dir.sqlite3"
    blocked.mkdir()
    assert main(["upgrade", "--database", f"sqlite:///{blocked}"]) == 2
    assert "unable to open" in capsys.readouterr().err
