"""Artifacts: round trip in both formats, atomic `current`, and refusal of a pickle that does not match its metadata.

The portable format's own refusals (checksums, edited files) are in tests/test_portable.py."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model import ArtifactError, CommentClassifier, load_model, save_model
from model.artifact import METADATA_FILE, MODEL_FILE
from training.data import load_labelled

from .conftest import TINY


@pytest.fixture(scope="module")
def fitted():
    data = load_labelled([TINY])
    return CommentClassifier(calibration_folds=0).fit(data.comments(), data.labels())


@pytest.mark.parametrize("portable", [True, False], ids=["portable", "pickled"])
def test_round_trip(tmp_path: Path, fitted, portable: bool):
    path = save_model(fitted, tmp_path, {"metrics": {"x": 1}}, version="v1", portable=portable)
    loaded = load_model(tmp_path / "current")
    assert loaded.version == "v1" and loaded.path == path.resolve()
    assert loaded.metadata["metrics"] == {"x": 1}
    texts = ["great post", "you idiot", "which members voted?"]
    np.testing.assert_allclose(loaded.estimator.predict_proba(texts), fitted.predict_proba(texts))
    # models/ itself resolves to its current version
    assert load_model(tmp_path).version == "v1"


@pytest.mark.parametrize("portable", [True, False], ids=["portable", "pickled"])
def test_current_points_to_newest(tmp_path: Path, fitted, portable: bool):
    save_model(fitted, tmp_path, {}, version="v1", portable=portable)
    save_model(fitted, tmp_path, {}, version="v2", portable=portable)
    assert (tmp_path / "current").resolve().name == "v2"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary directories left"


def test_corrupted_model_is_refused_before_unpickling(tmp_path: Path, fitted):
    path = save_model(fitted, tmp_path, {}, version="v1", portable=False)
    with open(path / MODEL_FILE, "r+b") as f:
        f.seek(100)
        f.write(b"\x00garbage")
    with pytest.raises(ArtifactError, match="sha256 .* but metadata.json records"):
        load_model(path)


def test_truncated_model_is_refused(tmp_path: Path, fitted):
    path = save_model(fitted, tmp_path, {}, version="v1", portable=False)
    data = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupt or was replaced"):
        load_model(path)


@pytest.mark.parametrize("missing", [MODEL_FILE, METADATA_FILE])
def test_missing_files_are_named(tmp_path: Path, fitted, missing: str):
    path = save_model(fitted, tmp_path, {}, version="v1", portable=False)
    (path / missing).unlink()
    with pytest.raises(ArtifactError, match=f"{missing} is missing"):
        load_model(path)


def test_missing_directory(tmp_path: Path):
    with pytest.raises(ArtifactError, match="does not exist; train one"):
        load_model(tmp_path / "nope")


def test_incompatible_library_version_is_refused(tmp_path: Path, fitted):
    path = save_model(fitted, tmp_path, {}, version="v1", portable=False)
    meta = json.loads((path / METADATA_FILE).read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    (path / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="trained with scikit-learn 0.24.2"):
        load_model(path)


@pytest.mark.parametrize("portable", [True, False], ids=["portable", "pickled"])
def test_existing_version_is_not_overwritten(tmp_path: Path, fitted, portable: bool):
    save_model(fitted, tmp_path, {}, version="v1", portable=portable)
    with pytest.raises(ArtifactError, match="already exists"):
        save_model(fitted, tmp_path, {}, version="v1", portable=portable)
    shutil.rmtree(tmp_path / "v1")


def test_training_writes_the_portable_format(tiny_model_dir: Path):
    """What training.fit writes is data only: no pickle in the folder, model.json names the labels."""
    from model.portable import MODEL_JSON

    names = {p.name for p in tiny_model_dir.resolve().iterdir()}
    assert MODEL_JSON in names and MODEL_FILE not in names and METADATA_FILE not in names, names
    loaded = load_model(tiny_model_dir)
    assert loaded.estimator.classes_.tolist() == loaded.metadata["labels"]


def test_a_pickle_from_before_the_settings_it_needs_is_refused(tmp_path: Path, fitted):
    """Made before 2026-11-29, a pickle lacks the signals block's digit_ratio_of (it counted the raw text): it is
    refused with the fix, not scored with today's counting."""
    import copy

    old = copy.deepcopy(fitted)
    signals = next(b for b in old.blocks_ if b.name == "signals")
    del signals.digit_ratio_of  # as unpickled from a model saved before the attribute existed
    path = save_model(old, tmp_path, {}, version="v1", portable=False)
    with pytest.raises(ArtifactError, match=r"made by an older release: it lacks the signals block's digit_ratio_of"):
        load_model(path)
