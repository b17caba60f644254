"""Write the moderators' stored feedback as JSONL in the training format.

python -m training.export_feedback --out feedback.jsonl                        # the service's default database
python -m training.export_feedback --database postgresql://u:p@host/db --out feedback.jsonl

Columns: text, label, id ("feedback-<n>"), article_id, article_title, article_body, source="feedback";
`python -m training.fit --data feedback.jsonl` reads the file as it is. A comment labelled more than once
(a moderator changed their mind) is written once, with its latest label.

Reads the database through `storage`, the storage package the service writes with: plain SQLAlchemy, no web
code, so the schema and its migrations have one home and cannot disagree between the writer and this reader.
"""

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from storage import StorageError, Store
from storage.engine import DATABASE_ENV, DEFAULT_DATABASE_URL, default_database_url, sqlite_path
from storage.export import training_rows


def export_feedback(database_url: str, out: Path) -> int:
    """Write every feedback row to `out` (replaced atomically, never left half-written); returns the count."""
    path = sqlite_path(database_url)
    if path is not None and not path.is_file():
        # Store() would create an empty database here and the export would quietly be empty.
        raise StorageError(
            f"database file {path} does not exist; pass --database with the service's database_url "
            f"(or set {DATABASE_ENV})"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    store = Store(database_url)
    count = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in training_rows(store):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    finally:
        store.close()
    return count


def snapshot_feedback(database_url: str, models_dir: Path) -> Path | None:
    """Export feedback for a training run to models_dir/feedback/feedback-<UTC time>.jsonl, kept beside the
    models so the data a model was trained on can be found again; None when there is no feedback yet."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(models_dir) / "feedback" / f"feedback-{stamp}.jsonl"
    if export_feedback(database_url, out) == 0:
        out.unlink()
        return None
    return out


def main(argv: list[str] | None = None, prog: str = "python -m training.export_feedback") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m training.export_feedback", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database",
        default=None,
        help=f"database URL (default: ${DATABASE_ENV}, else {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    args = parser.parse_args(argv)
    try:
        count = export_feedback(args.database or default_database_url(), args.out)
    except (StorageError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {count} feedback rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
