"""training/attributes.py: the Toxic Spans targets and gold spans, SemEval's span F1, the held-out rule, and a
training run on a slice of the real set that writes an attributes/ folder the service can load."""

import csv
import shutil
from pathlib import Path

import pytest

from model.attribute_files import FOLDER, read_attributes
from training.attribute_fit import span_f1
from training.attributes import main
from training.realdata import row_key
from training.toxic_spans import DATASET, load_toxic_spans, part_of
from training.toxic_spans import FOLDER as DATA_FOLDER

from .conftest import PUBLIC, ROOT, require_shared


def test_span_f1_scores_as_semeval_2021_task_5():
    assert span_f1(set(), frozenset()) == 1.0  # nothing to find, nothing found
    assert span_f1({1, 2}, frozenset()) == 0.0
    assert span_f1(set(), frozenset({1})) == 0.0
    assert span_f1({1, 2, 3, 4}, frozenset({3, 4, 5, 6})) == pytest.approx(0.5)
    assert span_f1({3, 4, 5, 6}, frozenset({3, 4, 5, 6})) == 1.0


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_targets_and_gold_follow_the_annotators_majority(tmp_path: Path):
    folder = tmp_path / DATA_FOLDER
    folder.mkdir()
    text = "You idiot, I will hurt you."  # "idiot" 4-9, "hurt you" 18-26
    _write(folder / "comments.csv", [{"comment_id": "7", "comment_text": text}])
    notes = [  # three annotators: two mark "idiot" as an insult, one also marks a threat, one says not toxic
        ("a1", "False", "False"),
        ("a2", "False", "False"),
        ("a3", "False", "True"),
    ]
    _write(
        folder / "annotations.csv",
        [
            {"annotation": a, "comment_id": "7", "worker": i, "country": "X", "all toxic": at, "not toxic": nt}
            for i, (a, at, nt) in enumerate(notes)
        ],
    )
    spans = [("a1", "Insult", 4, 9), ("a2", "Insult", 4, 9), ("a2", "Threat", 18, 26)]
    _write(tmp_path / "spans.csv", [{"annotation": a, "type": t, "start": s, "end": e} for a, t, s, e in spans])
    shutil.move(tmp_path / "spans.csv", folder / "spans.csv")
    labels = tmp_path / "labels.csv"
    labels.write_text("dataset,key,split,a,b,c\n", encoding="utf-8")
    [c] = load_toxic_spans(tmp_path, labels)
    assert c.targets["TOXICITY"] == pytest.approx(2 / 3)
    assert c.targets["INSULT"] == pytest.approx(2 / 3) and c.targets["THREAT"] == pytest.approx(1 / 3)
    assert c.targets["SEVERE_TOXICITY"] == 0.0  # not unanimous
    assert c.gold == frozenset(range(4, 9))  # "hurt you" was marked by one of three: not gold
    assert c.gold_by_type["INSULT"] == frozenset(range(4, 9)) and c.gold_by_type["THREAT"] == frozenset()


def test_the_held_out_part_is_a_hash_rule_that_leaves_sealed_comments_out():
    ids = [str(i) for i in range(4000)]
    parts = [part_of(i, set(), set()) for i in ids]
    assert 0.17 < parts.count("test") / len(ids) < 0.23
    assert parts == [part_of(i, set(), set()) for i in ids]  # the same every time
    sealed = {row_key(DATASET, ids[0]), row_key(DATASET, ids[1])}
    assert part_of(ids[0], sealed, set()) is None and part_of(ids[1], sealed, set()) is None
    dev_id = next(i for i, p in zip(ids, parts, strict=True) if p != "test")
    assert part_of(dev_id, set(), {row_key(DATASET, dev_id)}) == "dev"  # never trained on


@pytest.mark.slow
@pytest.mark.public
def test_training_on_a_slice_writes_attributes_the_service_loads(default_model_dir: Path, tmp_path: Path):
    require_shared(PUBLIC)
    model = tmp_path / "model"
    model.mkdir()
    for p in default_model_dir.iterdir():
        if p.is_file():
            shutil.copy2(p, model / p.name)
    report = tmp_path / "report.md"
    args = ["--model-dir", str(model), "--public", str(PUBLIC), "--limit", "1500", "--cache", ""]
    before = set(ROOT.iterdir())
    assert main([*args, "--report", str(report), "--score-on", "calibration"]) == 0
    assert set(ROOT.iterdir()) == before  # `--cache ""` caches nothing, anywhere
    attributes = read_attributes(model)
    assert attributes is not None and (model / FOLDER).is_dir()
    figures = attributes.metadata["held_out"]["test"]["roc_auc"]
    assert figures["INSULT"]["auc"] > 0.6  # a slice, but the head has learnt something
    scores, spans = attributes.analyze("You are an idiot.", "You are an idiot.", _embedding(model), spans=True)
    assert scores["INSULT"] > 0.5 and "ROC-AUC" in report.read_text(encoding="utf-8")


def _embedding(model: Path):
    from model.artifact import load_model

    return load_model(model).estimator.embedder_.embed(["You are an idiot."])[0]
