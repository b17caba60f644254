"""The rubric-labelled real comments (data/real/labels.csv): what the file holds, how it is checked, how the
sealed split stays sealed, and how training uses it (or says it cannot)."""

import csv
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from model.artifact import read_metadata
from model.labels import LABELS
from training.config import TrainConfig
from training.realdata import COLUMNS, RealLabel, RealLabelError, load_real, read_labels

from .conftest import FIXTURES, PUBLIC, ROOT, require_shared

sys.path.insert(0, str(ROOT / "bench"))

TINY = FIXTURES / "tiny.jsonl"


def write(path: Path, rows: list[list[str]], header: tuple[str, ...] = COLUMNS) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([list(header), *rows])
    return path


def test_the_shipped_labels_hold_keys_and_labels_only_in_three_disjoint_splits() -> None:
    rows = read_labels()
    assert len(rows) >= 12_000
    assert all(re.fullmatch(r"[0-9a-f]{16}", r.key) for r in rows), "keys are hashed; no raw id, no text"
    splits = Counter(r.split for r in rows)
    assert splits["sealed"] >= 2_000
    sealed_sets = {r.dataset for r in rows if r.split == "sealed"}
    assert sealed_sets >= {r.dataset for r in rows} - {"olid_test"}, "every source is in the sealed split"
    # The 500 of bench/annotations were looked at while writing the corpus: they may be dev, never sealed.
    looked_at = set()
    for path in (ROOT / "bench" / "annotations").glob("rubric-*.csv"):
        with open(path, encoding="utf-8", newline="") as f:
            looked_at |= {r["key"] for r in csv.DictReader(f)}
    assert not [r for r in rows if r.key in looked_at and r.split == "sealed"]


def test_two_blind_passes_agree_often_but_not_always() -> None:
    both = [r for r in read_labels() if r.a and r.b]
    agree = sum(r.a == r.b for r in both) / len(both)
    assert 0.85 < agree < 0.99, f"passes agree on {agree:.3f}: identical passes were not independent"
    # A third reading settles disagreements only; where the passes agree, the label is theirs.
    assert all(r.label == r.a for r in both if r.a == r.b and not r.c)


@pytest.mark.parametrize(
    ("a", "b", "c", "expected"),
    [
        ("spam", "spam", "", "spam"),
        ("spam", "toxic", "", None),
        ("spam", "toxic", "toxic", "toxic"),
        ("spam", "", "", None),
    ],
)
def test_the_final_label_is_the_third_reading_else_the_passes_where_they_agree(a, b, c, expected) -> None:
    assert RealLabel("olid", "0" * 16, "train", a, b, c).label == expected


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["olid", "k1", "train", "offensive", "", ""], "line 2: column a is 'offensive'; expected empty or one of"),
        (
            ["olid", "k1", "test", "spam", "spam", ""],
            "line 2: split 'test'; expected one of ['train', 'dev', 'sealed', 'extra']",
        ),
        (["reddit", "k1", "train", "spam", "spam", ""], "line 2: dataset 'reddit'; expected one of"),
    ],
)
def test_a_bad_row_is_named_with_its_line_and_the_fix(tmp_path: Path, row: list[str], message: str) -> None:
    path = write(tmp_path / "labels.csv", [row])
    with pytest.raises(RealLabelError, match=re.escape(message)):
        read_labels(path)


def test_a_repeated_key_and_wrong_columns_are_refused(tmp_path: Path) -> None:
    row = ["olid", "k1", "train", "spam", "spam", ""]
    with pytest.raises(RealLabelError, match="line 3: olid key k1 appears twice"):
        read_labels(write(tmp_path / "twice.csv", [row, row]))
    with pytest.raises(RealLabelError, match=re.escape("expected ['dataset', 'key', 'split', 'a', 'b', 'c']")):
        read_labels(write(tmp_path / "cols.csv", [row[:4]], header=("dataset", "key", "split", "label")))


def test_the_sealed_split_cannot_be_trained_on() -> None:
    with pytest.raises(ValueError, match="real_splits \\['sealed'\\] cannot be trained on"):
        TrainConfig().updated({"real_splits": ["train", "sealed"]})


def test_without_the_public_texts_training_says_so_and_uses_the_written_corpus(tmp_path: Path, capsys) -> None:
    from training.fit import load_real_for

    config = TrainConfig(data=[str(TINY)], real=str(tmp_path / "nowhere"))
    train, dev, provenance = load_real_for(config)
    assert train is None and dev is None
    assert provenance == {"used": False, "why": f"{tmp_path / 'nowhere'} not found"}
    assert "real comments: MISSING" in capsys.readouterr().err


@pytest.mark.public
def test_every_label_joins_to_a_public_text_and_the_sample_is_reproducible(tmp_path: Path) -> None:
    from real_sample import sample

    public = require_shared(PUBLIC)
    real = load_real(public)
    assert real.missing == {}, "every labelled key must find its text in ../shared/data/public"
    drawn = {(r["dataset"], r["key"], r["split"]) for r in sample(public)}
    assert drawn == {(r.dataset, r.key, r.split) for r in read_labels()}


@pytest.mark.public
def test_a_fit_trains_on_the_real_train_split_records_its_sets_and_measures_dev(tmp_path: Path) -> None:
    from training.fit import train

    public = require_shared(PUBLIC)
    keep = []
    for r in read_labels():
        if r.label and r.dataset in ("youtube_spam", "sfu_ctc", "olid") and r.split in ("train", "dev", "sealed"):
            keep.append([r.dataset, r.key, r.split, r.a, r.b, r.c])
    by_split: dict[str, list[list[str]]] = {}
    for row in keep:
        by_split.setdefault(f"{row[0]}/{row[2]}", []).append(row)
    small = [row for rows in by_split.values() for row in rows[:15]]
    labels = write(tmp_path / "labels.csv", small)
    config = TrainConfig(
        data=[str(TINY)],
        out=str(tmp_path / "models"),
        calibration_folds=3,
        features=["word", "char", "signals"],
        real=str(public),
        real_labels=str(labels),
    )
    meta = read_metadata(train(config))
    used = meta["real_comments"]
    assert used["used"] and used["excluded"] == ["sfu_ctc"]
    assert {s["dataset"] for s in used["sets"]} == {"youtube_spam", "olid"}, "SFU (non-commercial) stays out"
    assert all(s["rows"] == 15 and s["commercial_use"] for s in used["sets"]), "the train split only"
    assert meta["training"]["data"]["rows"] == 48  # the written rows; the real ones are counted apart
    assert meta["metrics"]["real_dev"]["n"] == 30  # dev of youtube + olid; sealed is never read
    assert set(meta["metrics"]["real_dev"]["per_label"]) == set(LABELS)


def test_the_extra_split_is_labelled_but_left_out_of_the_default_recipe() -> None:
    extra = [r for r in read_labels() if r.split == "extra"]
    assert len(extra) == 800 and {r.dataset for r in extra} == {"civil_comments_toxic_spans"}
    assert TrainConfig().real_splits == ["train"]
    assert TrainConfig().updated({"real_splits": ["train", "extra"]}).real_splits == ["train", "extra"]
