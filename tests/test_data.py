"""Training data validation: every problem names the file, the row and the fix."""

import json
import re
from pathlib import Path

import pytest

from training.data import DataError, load_labelled


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = [
    {"text": "you idiot", "label": "toxic"},
    {"text": "nice post", "label": "spam"},
    {"text": "what about rents?", "label": "Substantive"},
]


def test_loads_jsonl_and_csv(tmp_path: Path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", GOOD)
    csv = tmp_path / "b.csv"
    csv.write_text('text,label,article_id\n"hello, world",spam,a1\nwhy 4%?,substantive,a1\n')
    data = load_labelled([jsonl, csv])
    assert [r.label for r in data.rows] == ["toxic", "spam", "substantive", "spam", "substantive"]
    assert data.rows[3].text == "hello, world" and data.rows[3].article_id == "a1"
    assert len(data.fingerprint) == 64


def test_missing_column(tmp_path: Path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"comment": "x", "label": "spam"}])
    with pytest.raises(DataError, match=re.escape(f"{path}, line 1: missing column(s) ['text']")):
        load_labelled([path])


def test_unknown_label_names_line_and_choices(tmp_path: Path):
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD[0], {"text": "x", "label": "ham"}])
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: unknown label 'ham'; expected one of spam, toxic")):
        load_labelled([path])


def test_empty_text(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text("text,label\nfine,spam\n   ,toxic\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, row 2: empty text; remove the row")):
        load_labelled([path])


def test_malformed_jsonl_line(tmp_path: Path):
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD[0], '{"text": "broken", "label": ', GOOD[1]])
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: malformed JSON")):
        load_labelled([path])


def test_malformed_csv_row(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text('text,label\nfine,spam\n"a, b",toxic,extra,more\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 3: malformed row")):
        load_labelled([path])


def test_skip_invalid_drops_and_counts(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [*GOOD, {"text": "", "label": "spam"}, {"text": "y", "label": "ham"}, {"text": "z", "label": "ham"}],
    )
    data = load_labelled([path], skip_invalid=True)
    assert len(data.rows) == 3
    assert dict(data.skipped) == {"empty text": 1, "unknown label": 2}


def test_missing_file_and_bad_suffix(tmp_path: Path):
    with pytest.raises(DataError, match="does not exist"):
        load_labelled([tmp_path / "nope.jsonl"])
    bad = tmp_path / "a.txt"
    bad.write_text("x")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_labelled([bad])


def test_directory_joins_articles(tmp_path: Path):
    write_jsonl(tmp_path / "articles.jsonl", [{"article_id": "a1", "title": "Rates held", "body": "The bank..."}])
    write_jsonl(tmp_path / "comments.jsonl", [{**GOOD[2], "article_id": "a1"}])
    [row] = load_labelled([tmp_path]).rows
    assert (row.article_title, row.article_body) == ("Rates held", "The bank...")
    assert row.group == "article:a1"
