"""Fine-tuning the encoder on a site's own comments (encoder_finetune_epochs > 0): real weights, real training."""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from model import Comment, load_model
from model.artifact import ArtifactError, _bind_encoder, read_metadata
from model.checksum import sha256_file
from model.embeddings import UNVERIFIED, Embedder, EmbedderConfig
from model.features import normalize_all
from model.modeldir import ENCODER_DIR
from training.config import TrainConfig
from training.data import load_labelled
from training.finetune import finetune_encoder
from training.fit import train

from .conftest import TINY


@pytest.fixture(scope="module", autouse=True)
def _own_onnx_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tuned encoders are exported to ONNX like any other: into this module's folder, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COMMENT_MODERATION_CACHE", str(tmp_path_factory.mktemp("onnx-cache")))
        yield


@pytest.fixture(scope="module")
def tuned_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tuned-models")
    config = TrainConfig(real="", data=[str(TINY)], out=str(out), calibration_folds=3).updated(
        {"encoder_finetune_epochs": 2, "embedding_precision": "fp32"}
    )
    return train(config)


def _separation(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean cosine between comments of one label minus that between comments of different labels."""
    sims = vectors @ vectors.T
    same = np.equal.outer(labels, labels)
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return float(sims[same & off_diagonal].mean() - sims[~same].mean())


@pytest.mark.slow  # fine-tunes MiniLM (real weights, real training)
def test_finetuning_pulls_comments_of_one_label_together(tmp_path: Path) -> None:
    data = load_labelled([str(TINY)])
    texts, labels = normalize_all(data.comments()), data.labels()
    source = EmbedderConfig(precision="fp32", max_length=64, truncation="head_tail")
    tuned = finetune_encoder(source, texts, labels, tmp_path / "enc", epochs=5, lr=1e-4, log=lambda _: None)
    before = _separation(Embedder(source).embed(texts), labels)
    after = _separation(Embedder(tuned).embed(texts), labels)
    assert after > before + 0.1, (before, after)  # measured 0.06 -> 0.25
    # The tuned folder is a complete sentence-transformers folder whose weights the config pins.
    assert tuned.sha256 == sha256_file(tmp_path / "enc" / "model.safetensors")
    assert {"tokenizer.json", "config.json", "modules.json"} <= {p.name for p in (tmp_path / "enc").iterdir()}
    assert (tuned.max_length, tuned.truncation, tuned.precision) == (64, "head_tail", "fp32")


def test_finetuning_needs_two_labels_and_one_label_per_text(tmp_path: Path) -> None:
    source = EmbedderConfig(precision="fp32")
    with pytest.raises(ValueError, match="at least two labels"):
        finetune_encoder(source, ["a", "b"], ["spam", "spam"], tmp_path, epochs=1, lr=5e-5)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        finetune_encoder(source, ["a", "b"], ["spam"], tmp_path, epochs=1, lr=5e-5)


@pytest.mark.slow  # fine-tunes MiniLM (real weights, real training)
def test_artifact_carries_the_tuned_encoder_and_loads_from_anywhere(tuned_model_dir: Path, tmp_path: Path) -> None:
    encoder = tuned_model_dir / ENCODER_DIR
    assert (encoder / "model.safetensors").is_file()
    meta = read_metadata(tuned_model_dir)
    described = meta["embedding_model"]
    assert described["path"] == ENCODER_DIR
    assert described["sha256"] == sha256_file(encoder / "model.safetensors")
    assert described["fine_tuned"]["epochs"] == 2
    assert described["fine_tuned"]["from"]["path"] == ""  # the bundled weights it started from
    # Copied elsewhere (the training run's temporary folders are gone), it still loads its own encoder.
    moved = tmp_path / "elsewhere"
    shutil.copytree(tuned_model_dir, moved)
    loaded = load_model(moved)
    assert Path(loaded.estimator.embedder_.config.path) == moved.resolve() / ENCODER_DIR
    proba = loaded.estimator.predict_proba([Comment("you are a pathetic idiot"), Comment("Great post, thanks!")])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # The same answers as from where it was trained: the copy reads the same tuned weights.
    original = load_model(tuned_model_dir).estimator.predict_proba(
        [Comment("you are a pathetic idiot"), Comment("Great post, thanks!")]
    )
    np.testing.assert_allclose(proba, original, atol=1e-6)


@pytest.mark.slow  # fine-tunes MiniLM (real weights, real training)
def test_a_damaged_or_missing_tuned_encoder_is_refused_at_load(tuned_model_dir: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(tuned_model_dir, damaged)
    weights = damaged / ENCODER_DIR / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=re.escape(str(weights)) + r".*corrupt or was replaced.*retrain"):
        load_model(damaged)
    shutil.rmtree(damaged / ENCODER_DIR)
    with pytest.raises(ArtifactError, match=r"fine-tuned encoder.*missing.*copy the whole version directory"):
        load_model(damaged)


def test_only_the_tuned_encoder_folder_is_resolved_against_the_artifact(tmp_path: Path) -> None:
    # A user's own relative embedding_model folder is not the artifact's: it stays as configured.
    own = Embedder(EmbedderConfig(path="my-encoder", sha256=UNVERIFIED))
    estimator = SimpleNamespace(embedder_=own)
    _bind_encoder(estimator, tmp_path)
    assert own.config.path == "my-encoder"
    tuned = Embedder(EmbedderConfig(path=ENCODER_DIR, sha256="0" * 64))
    with pytest.raises(ArtifactError, match="missing"):
        _bind_encoder(SimpleNamespace(embedder_=tuned), tmp_path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"encoder_finetune_epochs": 2}, r'needs embedding_precision = "fp32" \(found \'int8\'\).*finetune.toml'),
        ({"encoder_finetune_epochs": -1}, "encoder_finetune_epochs must be between 0"),
        ({"encoder_finetune_lr": 0}, "encoder_finetune_lr must be a small positive"),
        (
            {"encoder_finetune_epochs": 2, "embedding_precision": "fp32", "features": ["word", "signals"]},
            "use no embedding",
        ),
        (
            {"encoder_finetune_epochs": 2, "embedding_precision": "fp32", "public": "../shared/data/public"},
            "cannot be combined with the public recipe",
        ),
    ],
)
def test_finetuning_settings_are_checked(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig().updated(values)


def test_shipped_finetune_config_is_valid_and_the_default_stays_frozen() -> None:
    root = Path(__file__).resolve().parent.parent
    config = TrainConfig.from_toml(root / "training" / "configs" / "finetune.toml")
    assert config.encoder_finetune_epochs > 0 and config.embedding_precision == "fp32"
    assert TrainConfig().encoder_finetune_epochs == 0  # `make run`'s model keeps the shipped weights


@pytest.mark.slow  # fine-tunes MiniLM (real weights, real training)
def test_the_service_serves_a_tuned_model(tuned_model_dir: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from serve.app import create_app
    from serve.settings import Settings

    loaded = load_model(tuned_model_dir)
    settings = Settings(model_dir=tuned_model_dir, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with TestClient(create_app(settings, loaded)) as client:
        r = client.post("/v1/predict", json={"comments": [{"text": "you absolute idiot"}, {"text": "Which way?"}]})
        assert r.status_code == 200, r.text
        for result in r.json()["results"]:
            assert abs(sum(result["scores"].values()) - 1) < 1e-4
        described = client.get("/v1/model").json()["embedding_model"]
        assert described["fine_tuned"]["epochs"] == 2 and described["path"] == ENCODER_DIR
