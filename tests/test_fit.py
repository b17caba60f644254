"""`python -m training.fit`: the artifact it writes and the errors it stops with."""

import re
from pathlib import Path

import pytest

from model import load_model
from model.artifact import read_metadata
from training.config import TrainConfig
from training.fit import main

from .conftest import TINY


def test_artifact_metadata(tiny_model_dir: Path):
    meta = read_metadata(tiny_model_dir)
    for key in ("labels", "version", "created", "libraries", "metrics", "training", "calibration"):
        assert key in meta, key
    assert meta["labels"] == ["spam", "toxic", "substantive"]
    assert meta["training"]["data"]["rows"] == 48
    assert len(meta["training"]["data"]["fingerprint_sha256"]) == 64
    assert meta["training"]["config"]["seed"] == 0
    held = meta["metrics"]["held_out"]
    assert 0 < held["n"] < 48 and 0.0 <= held["macro_f1"] <= 1.0
    assert set(held["per_label"]) == {"spam", "toxic", "substantive"}


@pytest.mark.slow  # the default recipe: also fits the real public comments (minutes)
def test_cli_trains_with_config_file(tmp_path: Path, capsys):
    config = tmp_path / "train.toml"
    config.write_text(f'data = ["{TINY}"]\ncalibration_folds = 2\nC = 2.0\n')
    assert main(["--config", str(config), "--out", str(tmp_path / "models"), "--seed", "3"]) == 0
    loaded = load_model(tmp_path / "models" / "current")
    assert loaded.metadata["training"]["config"]["C"] == 2.0
    assert loaded.metadata["training"]["config"]["seed"] == 3
    assert "held-out metrics" in capsys.readouterr().err


def test_cli_reports_bad_data_with_row(tmp_path: Path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "spam"}\n{"text": "x", "label": "meh"}\n')
    assert main(["--data", str(bad), "--out", str(tmp_path / "m")]) == 2
    assert f"{bad}, line 2: unknown label 'meh'" in capsys.readouterr().err
    assert not (tmp_path / "m" / "current").exists()


def test_unknown_config_key():
    with pytest.raises(ValueError, match=re.escape("unknown config key(s) ['learning_rate']")):
        TrainConfig().updated({"learning_rate": 0.1})


@pytest.mark.slow  # the default recipe with five C candidates, each cross-validated (many minutes)
def test_cli_auto_c_records_the_search(tmp_path: Path, capsys):
    config = tmp_path / "train.toml"
    config.write_text(f'data = ["{TINY}"]\ncalibration_folds = 2\nC = "auto"\n')
    assert main(["--config", str(config), "--out", str(tmp_path / "models")]) == 0
    meta = load_model(tmp_path / "models" / "current").metadata
    assert meta["training"]["config"]["C"] == "auto"
    search = meta["regularisation"]["cross_validated_log_loss"]
    assert len(search) == 5
    assert meta["regularisation"]["C"] == float(min(search, key=search.get))
    assert "C=auto: cross-validated log loss" in capsys.readouterr().err


@pytest.mark.parametrize("c", ["big", 0, -2, True])
def test_bad_c_in_config_is_refused(c):
    with pytest.raises(ValueError, match='C must be a positive number or "auto"'):
        TrainConfig().updated({"C": c})


def test_default_data_missing_from_the_current_directory_is_named(tmp_path: Path, monkeypatch, capsys):
    """An installed package run outside the checkout: the default corpus folder is relative, so say so."""
    monkeypatch.chdir(tmp_path)
    assert main(["--no-real", "--out", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err
    assert "the default corpus folder data/ is not in the current directory" in err
    assert str(tmp_path) in err and "--data FILE_OR_DIR" in err
    assert not (tmp_path / "models").exists()
