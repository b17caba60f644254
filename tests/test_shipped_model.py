"""The default model shipped in models/default: portable, small, licensed for commercial use, and what
`make model` rebuilds from data/ and the rubric-labelled real comments."""

import json
import pickle
from pathlib import Path

import pytest

from model.artifact import load_model
from model.labels import LABELS
from training.realdata import LICENCES

from .conftest import PUBLIC, ROOT, SHIPPED, require_shared

# The bound on the files that change with a retrain (everything in models/default).
MAX_SHIPPED_BYTES = 15 * 1024 * 1024
# How close a rebuild must land to the shipped model's recorded metrics.
REBUILD_TOLERANCE = 0.01


def _metadata() -> dict:
    return json.loads((SHIPPED / "model.json").read_text(encoding="utf-8"))["metadata"]


def test_the_shipped_model_is_data_only_and_small() -> None:
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.json", "arrays.npz", "checksums.txt"}
    assert not [p for p in files if p.suffix in (".pkl", ".joblib", ".pickle")], "no pickle ships"
    assert sum(p.stat().st_size for p in files) < MAX_SHIPPED_BYTES


def test_the_shipped_model_loads_without_unpickling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the shipped model must load without unpickling anything")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = load_model(SHIPPED)
    assert list(loaded.estimator.classes_) == list(LABELS)


def test_the_shipped_model_records_each_training_set_with_its_licence() -> None:
    real = _metadata()["real_comments"]
    assert real["used"], "the shipped model is trained on the rubric-labelled real comments"
    assert "sfu_ctc" in real["excluded"], "SFU's licence is non-commercial: it stays out of the shipped model"
    for s in real["sets"]:
        assert s["rows"] > 0 and s["licence"] == LICENCES[s["dataset"]][0]
        assert s["commercial_use"], f"{s['dataset']} does not allow a commercial site to run the model"
    assert real["splits"] == ["train"], "dev is for choices and sealed is the test: neither is trained on"


@pytest.mark.slow
@pytest.mark.public
def test_make_model_rebuilds_the_shipped_metrics(tmp_path: Path) -> None:
    """The default recipe, run again from data/ and the public texts, lands where the shipped model did."""
    from training.config import TrainConfig
    from training.fit import train

    require_shared(PUBLIC)
    config = TrainConfig(
        out=str(tmp_path), data=[str(ROOT / "data")], real=str(PUBLIC), real_labels=str(ROOT / "data/real/labels.csv")
    )
    rebuilt = load_model(train(config)).metadata["metrics"]
    shipped = _metadata()["metrics"]
    for part in ("held_out", "real_dev"):
        assert rebuilt[part]["macro_f1"] == pytest.approx(shipped[part]["macro_f1"], abs=REBUILD_TOLERANCE), part
