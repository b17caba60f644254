"""One archive row -> the fields the model needs, or the reason the row cannot be scored.

A bad row is never dropped: `check_record` returns a reason string and the caller writes the row to the
`rejected` part with it.
"""

import json
from dataclasses import dataclass
from typing import Any

from training.data import MAX_TEXT_CHARS

TEXT_FIELDS = ("article_title", "article_body")
# Raw rows are copied into the rejected part so a moderator can see what was wrong; long ones are cut.
RAW_CHARS = 500


@dataclass(frozen=True, slots=True)
class Record:
    """A valid row: what the model reads plus what the output row carries."""

    id: str
    text: str
    article_id: str
    article_title: str
    article_body: str
    site_id: str | None


def default_id(source_file: str, source_row: int) -> str:
    """The id of a row that has none: stable across reruns because the file path and row number are."""
    return f"{source_file}#{source_row}"


def check_record(raw: Any, source_file: str, source_row: int) -> Record | str:
    """Return a Record, or a reason naming the field, what was found and the fix."""
    if not isinstance(raw, dict):
        return f"row is {type(raw).__name__}, expected an object with a 'text' field"
    row_id = raw.get("id")
    if row_id is None or row_id == "":
        row_id = default_id(source_file, source_row)
    elif isinstance(row_id, bool) or not isinstance(row_id, str | int):
        return f"id is {type(row_id).__name__} {row_id!r}, expected a string or integer"
    text = raw.get("text")
    if text is None:
        return "missing text: the row has no 'text' field or it is null"
    if not isinstance(text, str):
        return f"text is {type(text).__name__}, expected a string"
    if not text.strip():
        return "empty text: 'text' is blank"
    if len(text) > MAX_TEXT_CHARS:
        return f"text has {len(text)} characters, more than the {MAX_TEXT_CHARS} the model accepts"
    fields: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} is {type(value).__name__}, expected a string or nothing"
        fields[name] = value or ""
    article_id = raw.get("article_id")
    site_id = raw.get("site_id")
    for name, value in (("article_id", article_id), ("site_id", site_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            return f"{name} is {type(value).__name__}, expected a string or integer"
    return Record(
        id=str(row_id),
        text=text,
        article_id="" if article_id is None else str(article_id),
        article_title=fields["article_title"],
        article_body=fields["article_body"],
        site_id=None if site_id in (None, "") else str(site_id),
    )


def raw_excerpt(raw: Any) -> str:
    """The row as JSON (or repr when it is not JSON-able), cut to RAW_CHARS."""
    try:
        text = json.dumps(raw, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(raw)
    return text if len(text) <= RAW_CHARS else text[:RAW_CHARS] + "..."
