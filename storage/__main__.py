"""Database maintenance. The service migrates by itself at start-up; these are for operators and developers.

python -m storage upgrade  [--database URL]   # apply the migrations now (e.g. before starting many workers)
python -m storage current  [--database URL]   # the database's revision and the newest this code knows
python -m storage revision -m "add x column"  # after editing schema.py: write the next migration script
"""

import argparse
import sys
import tempfile
from pathlib import Path

from alembic import command

from . import migrate
from .engine import DATABASE_ENV, DEFAULT_DATABASE_URL, default_database_url, make_engine
from .errors import StorageError
from .store import Store


def _database(args: argparse.Namespace) -> str:
    return args.database or default_database_url()


def new_revision(message: str) -> Path:
    """Autogenerate the next migration (0002_..., 0003_...) by diffing schema.py against a database at head."""
    head = migrate.head_revision()
    rev_id = f"{int(head.split('_')[0]) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'head.sqlite3'}")
        migrate.upgrade(engine)
        config = migrate.alembic_config()
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            script = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic wrote no single revision; check storage/migrations")
    return Path(script.path)


def main(argv: list[str] | None = None, prog: str = "python -m storage") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m storage", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("upgrade", "current"):
        p = sub.add_parser(name)
        p.add_argument("--database", help=f"database URL (default: ${DATABASE_ENV}, else {DEFAULT_DATABASE_URL})")
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True, help="what the migration changes")
    args = parser.parse_args(argv)
    try:
        if args.command == "upgrade":
            store = Store(_database(args))
            try:
                store.ping()  # Store() tolerates an unavailable database; this command must not
            finally:
                store.close()
            print(f"database at revision {migrate.head_revision()}")
        elif args.command == "current":
            engine = make_engine(_database(args))
            print(f"database: {migrate.current_revision(engine)}; newest known: {migrate.head_revision()}")
            engine.dispose()
        else:
            print(f"wrote {new_revision(args.message)}; read it, then run the tests")
    except StorageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
