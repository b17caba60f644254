"""Load labelled comments from CSV / JSONL files (or a hub dataset) and validate them before training.

Columns: `text`, `label` (required); `id`, `article_id`, `article_title`, `article_body`, `source`
(optional). A directory holding `comments.jsonl` and `articles.jsonl` (the layout of `data/`) is read as
one dataset, comments joined to their articles by `article_id`.
"""

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.inputs import Comment
from model.labels import LABELS

REQUIRED = ("text", "label")
OPTIONAL = ("id", "article_id", "article_title", "article_body", "source")
SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv"}
MAX_TEXT_CHARS = 20_000


class DataError(ValueError):
    """Training data that cannot be used as it is; the message names the file, row and fix."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


@dataclass
class Row:
    text: str
    label: str
    id: str
    article_id: str = ""
    article_title: str = ""
    article_body: str = ""
    source: str = ""

    def comment(self) -> Comment:
        return Comment(self.text, self.article_title, self.article_body)

    @property
    def group(self) -> str:
        """What keeps related comments on one side of a split: the article, else the comment itself."""
        return f"article:{self.article_id}" if self.article_id else f"comment:{self.id}"


@dataclass
class LabelledData:
    rows: list[Row]
    fingerprint: str
    sources: list[str]
    skipped: Counter = field(default_factory=Counter)
    label_names: tuple[str, ...] = LABELS  # the labels rows were checked against, in the model's order

    def comments(self) -> list[Comment]:
        return [r.comment() for r in self.rows]

    def labels(self) -> list[str]:
        return [r.label for r in self.rows]

    def groups(self) -> list[str]:
        return [r.group for r in self.rows]

    def label_counts(self) -> dict[str, int]:
        counts = Counter(self.labels())
        return {label: counts.get(label, 0) for label in self.label_names}


def load_labelled(
    paths: list[str | Path],
    skip_invalid: bool = False,
    articles: str | Path | None = None,
    labels: tuple[str, ...] = LABELS,
) -> LabelledData:
    """Load and validate every path; raise DataError on the first bad row unless `skip_invalid`. A row's
    label must be one of `labels` (the training config's; the rubric's three by default)."""
    if not paths:
        raise DataError("no training data given; pass --data FILE (CSV or JSONL with columns text,label)")
    rows: list[Row] = []
    skipped: Counter = Counter()
    digest = hashlib.sha256()
    article_index = _load_articles(Path(articles), digest) if articles else {}
    for raw_path in paths:
        for source, records, where in _read_source(str(raw_path), digest):
            index = dict(article_index)
            if source.endswith("comments.jsonl") and (Path(source).parent / "articles.jsonl").is_file():
                index.update(_load_articles(Path(source).parent / "articles.jsonl", digest))
            for record, loc in zip(records, where, strict=True):
                try:
                    rows.append(_validate(record, index, f"{source}, {loc}", f"{Path(source).stem}-{loc}", labels))
                except DataError as e:
                    if not skip_invalid:
                        raise
                    skipped[e.reason] += 1
    if not rows:
        raise DataError(f"no valid rows in {', '.join(map(str, paths))}; check the files have text and label columns")
    return LabelledData(
        rows=rows, fingerprint=digest.hexdigest(), sources=[str(p) for p in paths], skipped=skipped, label_names=labels
    )


def _read_source(path: str, digest: Any) -> list[tuple[str, list[dict[str, Any]], list[str]]]:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in SUFFIXES and f.name != "articles.jsonl")
        comments = p / "comments.jsonl"
        if comments.is_file():
            files = [comments]
        if not files:
            raise DataError(f"{p} holds no .jsonl or .csv files; put comments.jsonl (and articles.jsonl) there")
        return [item for f in files for item in _read_source(str(f), digest)]
    if p.exists():
        if p.suffix not in SUFFIXES:
            raise DataError(f"{p}: unsupported file type {p.suffix!r}; use .jsonl, .json or .csv")
        digest.update(p.read_bytes())
        records, where = _read_local(p)
        return [(str(p), records, where)]
    if "/" in path and not path.startswith((".", "/")):
        return [(path, *_read_hub(path, digest))]
    raise DataError(f"{path} does not exist; pass a CSV or JSONL file, a directory like data/, or a hub dataset name")


def _read_local(p: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Read through `datasets`; if it refuses the file, find and name the offending line ourselves."""
    import datasets  # heavy import: only when data is actually read

    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(SUFFIXES[p.suffix], data_files=str(p), split="train", keep_in_memory=True)
        records = ds.to_list()
    except Exception as e:  # pyarrow/pandas raise many types; we re-raise with the line
        _raise_malformed(p, e)
        raise DataError(f"{p}: could not be read ({type(e).__name__}: {e}); check it is valid {p.suffix[1:]}") from e
    if p.suffix == ".csv":
        return records, [f"row {i + 1}" for i in range(len(records))]
    lines = [n for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    if len(lines) != len(records):
        lines = list(range(1, len(records) + 1))
    return records, [f"line {n}" for n in lines]


def _raise_malformed(p: Path, error: Exception) -> None:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text (byte {e.start}); re-save the file as UTF-8") from error
    if p.suffix == ".csv":
        reader = csv.reader(text.splitlines())
        header = next(reader, [])
        for n, row in enumerate(reader, 2):
            if len(row) != len(header):
                raise DataError(
                    f"{p}, line {n}: malformed row with {len(row)} fields, header has {len(header)}; "
                    "quote fields that contain commas or newlines"
                ) from error
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}, line {n}: malformed JSON ({e.msg}); fix the line or drop it") from error
        if not isinstance(obj, dict):
            raise DataError(f"{p}, line {n}: expected a JSON object, found {type(obj).__name__}") from error


def _read_hub(name: str, digest: Any) -> tuple[list[dict[str, Any]], list[str]]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split="train")
    except Exception as e:
        raise DataError(f"{name}: not a local file and not loadable from the hub ({type(e).__name__}: {e})") from e
    digest.update(f"{name}@{ds._fingerprint}".encode())
    return ds.to_list(), [f"row {i + 1}" for i in range(len(ds))]


def _load_articles(path: Path, digest: Any) -> dict[str, dict[str, str]]:
    if not path.is_file():
        raise DataError(f"articles file {path} does not exist")
    digest.update(path.read_bytes())
    index = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            index[str(obj["article_id"])] = {
                "title": str(obj.get("title", "")),
                "body": str(obj.get("body", "")),
            }
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{path}, line {n}: expected a JSON object with article_id, title, body ({e})") from e
    return index


def _validate(
    record: dict[str, Any],
    articles: dict[str, dict[str, str]],
    where: str,
    default_id: str,
    labels: tuple[str, ...] = LABELS,
) -> Row:
    missing = [c for c in REQUIRED if c not in record]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; found {sorted(record)}. "
            "Training data needs columns text and label (optional: " + ", ".join(OPTIONAL) + ")",
            reason=f"missing column(s) {missing}",
        )
    text, label = record["text"], record["label"]
    if not isinstance(text, str):
        raise DataError(
            f"{where}: 'text' must be a string, found {type(text).__name__}; quote it or fix the row",
            reason="text is not a string",
        )
    if not text.strip():
        raise DataError(f"{where}: empty text; remove the row or fill in the comment text", reason="empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(
            f"{where}: text has {len(text)} characters, over {MAX_TEXT_CHARS}; trim it or drop the row",
            reason=f"text over {MAX_TEXT_CHARS} characters",
        )
    if not isinstance(label, str) or label.strip().lower() not in labels:
        raise DataError(
            f"{where}: unknown label {label!r}; expected one of {', '.join(labels)} (to train other labels, "
            "list them in the training config: `labels = [...]` or --labels)",
            reason="unknown label",
        )
    article_id = _opt_str(record.get("article_id"))
    article = articles.get(article_id, {}) if article_id else {}
    return Row(
        text=text,
        label=label.strip().lower(),
        id=_opt_str(record.get("id")) or default_id,
        article_id=article_id,
        article_title=_opt_str(record.get("article_title")) or article.get("title", ""),
        article_body=_opt_str(record.get("article_body")) or article.get("body", ""),
        source=_opt_str(record.get("source")),
    )


def _opt_str(value: Any) -> str:
    return "" if value is None else str(value)
