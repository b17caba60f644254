"""The rubric-labelled sample of real comments (bench/annotations): it labels exactly the seeded sample, its
files are checked with errors that name the row, and the default model keeps a floor on it."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from model.labels import LABELS

from .conftest import PUBLIC, ROOT, require_shared

sys.path.insert(0, str(ROOT / "bench"))

from rubric import ANNOTATIONS, AnnotationError, policy_view, read_annotations  # noqa: E402
from rubric_sample import READERS, SIZES, sample  # noqa: E402
from rubric_sample import main as sample_main  # noqa: E402

# The shipped default scores 0.649 pooled macro-F1 and calls 27% of the civil comments toxic
# (bench/results/rubric.md); before the corpus's third round it was 0.601 and 42%. The floors sit between.
FLOOR_MACRO_F1 = 0.62
CEILING_CIVIL_CALLED_TOXIC = 0.35


def write(folder: Path, name: str, rows: list[list[str]]) -> None:
    with open(folder / f"rubric-{name}.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["key", "a", "b", "label"], *rows])


@pytest.mark.public
@pytest.mark.parametrize("name", list(READERS))
def test_annotations_label_exactly_the_seeded_sample(name: str) -> None:
    rows = sample(name, require_shared(PUBLIC))
    assert len(rows) == SIZES[name] == len({r.key for r in rows})
    notes = read_annotations(name, [r.key for r in rows])
    assert [n["key"] for n in notes] == [r.key for r in rows]
    # Two passes that were not independent would agree on every row.
    assert 0.8 < np.mean([n["a"] == n["b"] for n in notes]) < 1.0
    # Where the passes agree, the final label is theirs; a third reading only settles disagreements.
    assert all(n["label"] == n["a"] for n in notes if n["a"] == n["b"])


def test_no_public_text_in_the_annotations() -> None:
    for path in ANNOTATIONS.glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f))
        assert header == ["key", "a", "b", "label"], f"{path}: only keys and our labels belong here"


def test_a_bad_label_is_named_with_its_file_line_and_the_labels_expected(tmp_path: Path) -> None:
    write(tmp_path, "olid", [["1", "spam", "toxic", "toxic"], ["2", "spam", "offensive", "spam"]])
    with pytest.raises(AnnotationError, match=r"rubric-olid\.csv line 3: column 'b' is 'offensive'.*'substantive'"):
        read_annotations("olid", ["1", "2"], tmp_path)


def test_a_repeated_key_and_a_sample_mismatch_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "olid", [["1", "spam", "spam", "spam"], ["1", "spam", "spam", "spam"]])
    with pytest.raises(AnnotationError, match="line 3: key 1 appears twice"):
        read_annotations("olid", ["1"], tmp_path)
    write(tmp_path, "olid", [["1", "spam", "spam", "spam"], ["9", "toxic", "toxic", "toxic"]])
    with pytest.raises(AnnotationError, match=r"1 sampled keys have no row \(first \['2'\]\), 1 rows are not in"):
        read_annotations("olid", ["1", "2"], tmp_path)
    with pytest.raises(AnnotationError, match="rubric-sfu_ctc.csv not found"):
        read_annotations("sfu_ctc", ["1"], tmp_path)


def test_the_policy_view_counts_what_the_shipped_policy_decides_per_label() -> None:
    # Columns in LABELS order: spam, toxic, substantive. Default thresholds: toxic hold 0.50 / reject 0.96.
    proba = np.array([[0.0, 0.97, 0.03], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.97, 0.02, 0.01]])
    view = policy_view(None, ["substantive", "substantive", "substantive", "spam"], proba)
    assert view["version"] == "default-2"
    assert view["by_our_label"]["substantive"] == {"approve": 0.3333, "hold": 0.3333, "reject": 0.3333}
    assert view["by_our_label"]["spam"] == {"approve": 0.0, "hold": 0.0, "reject": 1.0}
    assert "toxic" not in view["by_our_label"]  # no comment of ours has it: nothing to share out


def test_the_sampler_will_not_write_public_text_into_the_repository() -> None:
    with pytest.raises(SystemExit):
        sample_main(["--out", str(ROOT / "bench" / "packets")])
    assert not (ROOT / "bench" / "packets").exists()


@pytest.mark.slow
@pytest.mark.public
def test_the_default_model_keeps_its_floor_on_real_comments_judged_by_our_rubric(default_model_dir: Path) -> None:
    """Real comments from three public sets, labelled by us (bench/rubric.py reports the full figures)."""
    from model.artifact import load_model
    from model.inputs import Comment
    from training.metrics import classification_metrics

    model = load_model(default_model_dir).estimator
    ours, proba = [], []
    for name in READERS:
        rows = sample(name, require_shared(PUBLIC))
        ours += [n["label"] for n in read_annotations(name, [r.key for r in rows])]
        p = model.predict_proba([Comment(r.text, r.context) for r in rows])
        proba.append(p[:, [list(model.classes_).index(label) for label in LABELS]])
    metrics = classification_metrics(ours, np.vstack(proba))
    assert metrics["macro_f1"] >= FLOOR_MACRO_F1, metrics
    civil = metrics["confusion_matrix"]["matrix"][LABELS.index("substantive")]
    assert civil[LABELS.index("toxic")] / sum(civil) <= CEILING_CIVIL_CALLED_TOXIC, metrics["confusion_matrix"]
