"""The embedding runs on ONNX Runtime from a checked, cached export; torch stays the reference and fallback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.embeddings import (
    BUNDLED_SHA256,
    Embedder,
    EmbedderConfig,
    EmbeddingError,
    Tokenizer,
    _load_once,
    _torch_encoder,
)
from model.onnx_runtime import KNOWN_ANSWER_TOLERANCE, MIN_COSINE, MIN_COSINE_INT8, load_or_export, run_session

from .conftest import ROOT

# The weights as shipped, which torch computes too: what the runtime comparisons below are about.
FP32 = EmbedderConfig(precision="fp32")
TEXTS = [
    "ok",
    "The council voted 5-2 to close the Elm Street library on Sundays, saving 40,000 a year.",
    "you are a pathetic idiot",
    "CALL +1 (888) 555-0143 NOW for printer support " * 20,  # longer than max_length: truncated alike
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COMMENT_MODERATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COMMENT_MODERATION_RUNTIME", raising=False)
    _load_once.cache_clear()
    yield tmp_path / "cache"
    _load_once.cache_clear()


def test_auto_runtime_exports_once_and_matches_torch(cache: Path) -> None:
    onnx = Embedder(FP32, cache_size=0)
    vectors = onnx.embed(TEXTS)
    assert onnx.runtime == "onnxruntime"
    exports = sorted(p.name for p in cache.iterdir())
    assert len(exports) == 2 and exports[0].endswith(".json") and exports[1].endswith(".onnx"), exports
    meta = json.loads((cache / exports[0]).read_text(encoding="utf-8"))
    assert meta["min_cosine_vs_torch"] > MIN_COSINE
    reference = Embedder(EmbedderConfig(runtime="torch", precision="fp32"), cache_size=0)
    assert reference.runtime == "torch"
    cosine = (vectors * reference.embed(TEXTS)).sum(axis=1)
    assert cosine.min() > MIN_COSINE, cosine


def test_a_tampered_export_is_never_used(cache: Path) -> None:
    first = Embedder(FP32, cache_size=0).embed(TEXTS)
    onnx_file = next(cache.glob("*.onnx"))
    good = onnx_file.read_bytes()
    onnx_file.write_bytes(good[:-4096] + b"\0" * 4096)  # corrupt the weights at the end of the file
    _load_once.cache_clear()
    again = Embedder(FP32, cache_size=0).embed(TEXTS)
    np.testing.assert_allclose(again, first, atol=1e-5)
    assert onnx_file.read_bytes() == good, "the corrupted export should have been replaced by a fresh one"


def test_unwritable_cache_falls_back_to_torch_or_fails_when_onnx_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("COMMENT_MODERATION_CACHE", str(blocker / "cache"))
    _load_once.cache_clear()
    try:
        embedder = Embedder(FP32, cache_size=0)
        assert embedder.embed(["still works"]).shape == (1, 384)
        assert embedder.runtime == "torch"
        assert "falling back to torch" in caplog.text and "COMMENT_MODERATION_CACHE" in caplog.text
        with pytest.raises(EmbeddingError, match=r"runtime 'onnx' was asked for.*not-a-dir"):
            Embedder(EmbedderConfig(runtime="onnx")).embed(["x"])
    finally:
        _load_once.cache_clear()


def test_unknown_runtime_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EmbeddingError, match="'tensorrt' is not one of auto, onnx, torch"):
        EmbedderConfig(runtime="tensorrt")
    monkeypatch.setenv("COMMENT_MODERATION_RUNTIME", "gpu")
    with pytest.raises(EmbeddingError, match="COMMENT_MODERATION_RUNTIME='gpu'"):
        EmbedderConfig().resolved_runtime()


def test_a_cached_export_serves_without_importing_torch(cache: Path) -> None:
    Embedder(FP32, cache_size=0).embed(["fill the cache"])
    _torch_encoder.cache_clear()
    code = (
        "import sys; from model.embeddings import Embedder, EmbedderConfig; "
        "e = Embedder(EmbedderConfig(precision='fp32')); v = e.embed(['hello']); "
        "print(e.runtime, v.shape[1], 'torch' in sys.modules)"
    )
    env = {**os.environ, "COMMENT_MODERATION_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["onnxruntime", "384", "False"], out.stdout + out.stderr


def test_int8_encoder_is_made_once_checked_and_close_to_fp32(cache: Path) -> None:
    fp32 = Embedder(FP32, cache_size=0).embed(TEXTS)
    int8 = Embedder(EmbedderConfig(precision="int8"), cache_size=0)
    vectors = int8.embed(TEXTS)
    assert int8.runtime == "onnxruntime"
    quantised = next(cache.glob("*-int8.onnx"))
    meta = json.loads(quantised.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["min_cosine_vs_fp32"] > MIN_COSINE_INT8 and meta["onnxruntime"]
    cosine = (vectors * fp32).sum(axis=1)
    # A different encoder (not a runtime swap): close to fp32, and really quantised, not a copy of it.
    assert cosine.min() > MIN_COSINE_INT8 and cosine.mean() < 0.9999, cosine
    assert quantised.stat().st_size < next(p for p in cache.glob("*.onnx") if p != quantised).stat().st_size / 2
    made = quantised.stat().st_mtime_ns
    _load_once.cache_clear()
    np.testing.assert_allclose(
        Embedder(EmbedderConfig(precision="int8"), cache_size=0).embed(TEXTS), vectors, atol=1e-6
    )
    assert quantised.stat().st_mtime_ns == made, "a valid cached int8 encoder is reused, not made again"


def test_int8_never_falls_back_to_fp32_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An int8-trained model on fp32 vectors would drift silently: refuse, naming the fix."""
    monkeypatch.setenv("COMMENT_MODERATION_RUNTIME", "torch")
    with pytest.raises(EmbeddingError, match=r"trained on int8.*COMMENT_MODERATION_RUNTIME.*embedding_precision"):
        _load_once(EmbedderConfig(precision="int8"))
    monkeypatch.delenv("COMMENT_MODERATION_RUNTIME")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("COMMENT_MODERATION_CACHE", str(blocker / "cache"))
    _load_once.cache_clear()
    try:
        with pytest.raises(EmbeddingError, match=r"int8 embeddings need ONNX Runtime.*not-a-dir"):
            Embedder(EmbedderConfig(precision="int8")).embed(["x"])
    finally:
        _load_once.cache_clear()


def test_unknown_precision_is_refused_naming_the_choices() -> None:
    from training.config import TrainConfig

    with pytest.raises(EmbeddingError, match="'fp16' is not one of fp32, int8"):
        EmbedderConfig(precision="fp16")
    with pytest.raises(ValueError, match=r'embedding_precision must be "fp32" or "int8", found \'fp16\''):
        TrainConfig().updated({"embedding_precision": "fp16"})
    assert TrainConfig().embedding_precision == "int8", "new models train on the measured faster encoder"


def test_a_pickle_made_before_the_encoder_settings_existed_is_refused(tmp_path: Path) -> None:
    """Old artifacts pickled an EmbedderConfig without precision (they were trained on fp32 vectors): refused at
    load with the fix, never embedded with today's int8 default."""
    from model.artifact import ArtifactError, load_model, save_model
    from model.classifier import CommentClassifier

    rows = [("great post, visit my site", "spam"), ("you idiot", "toxic"), ("why close the library?", "substantive")]
    fitted = CommentClassifier(features=("word", "embedding"), calibration_folds=0).fit(
        [t for t, _ in rows * 4], [y for _, y in rows * 4]
    )
    del fitted.embedder_.config.__dict__["precision"]  # what unpickling an older artifact leaves
    path = save_model(fitted, tmp_path, {}, version="v1", portable=False)
    with pytest.raises(ArtifactError, match=r"made by an older release: it lacks the encoder's precision"):
        load_model(path)


def test_batches_in_flight_at_once_give_the_same_vectors_in_input_order(cache: Path) -> None:
    from model.embeddings import set_threads

    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 5)]  # 20 texts: several batches either way
    try:
        set_threads(1)
        one = Embedder(FP32, cache_size=0).embed(texts)
        set_threads(2)
        embedder = Embedder(FP32, cache_size=0)
        two = embedder.embed(texts)
        assert _load_once(embedder.config).workers == 2
    finally:
        set_threads(0)
    np.testing.assert_allclose(two, one, atol=1e-5)


def test_an_int8_vector_does_not_depend_on_the_texts_beside_it(cache: Path) -> None:
    """Dynamic quantisation scales per call: batched, a comment's score would change with its neighbours."""
    embedder = Embedder(EmbedderConfig(precision="int8"), cache_size=0)
    alone = embedder.embed([TEXTS[2]])
    beside = embedder.embed([TEXTS[3], TEXTS[2], TEXTS[1]])  # a long, loud neighbour and a plain one
    np.testing.assert_allclose(beside[1:2], alone, atol=1e-6)


def test_without_torch_a_new_encoder_is_checked_against_the_known_answer(
    cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A serving install has no torch to compare with: the bundled weights have torch's answer written down."""
    folder = EmbedderConfig().folder()
    tokenizer = Tokenizer(folder, 128)
    no_torch = lambda: None  # noqa: E731  (what embeddings.py passes where torch is not installed)
    session = load_or_export(BUNDLED_SHA256, folder, 1, tokenizer, no_torch)
    meta = json.loads(next(cache.glob("encoder-*-g*[0-9].json")).read_text(encoding="utf-8"))
    assert meta["known_answer_error"] <= KNOWN_ANSWER_TOLERANCE and "min_cosine_vs_torch" not in meta, meta
    as_tokenized = EmbedderConfig(runtime="torch", precision="fp32", max_length=128, truncation="head")
    reference = Embedder(as_tokenized, cache_size=0).embed(TEXTS)
    np.testing.assert_allclose(run_session(session, tokenizer(TEXTS)), reference, atol=1e-5)
    # Weights without a known answer (a folder of your own) are used, but the log says they were not checked.
    load_or_export("0" * 64, folder, 1, tokenizer, no_torch)
    assert "checked against nothing: torch is not installed" in caplog.text
