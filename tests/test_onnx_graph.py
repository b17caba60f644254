"""The encoder graph written without torch (model/onnx_graph.py) is torch's encoder, in fp32 and in int8.

Both checks need torch, the reference; a serving install has none and skips them.
"""

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from model.artifact import load_model
from model.embeddings import BUNDLED_SHA256, EmbedderConfig, Tokenizer, _load_once
from model.onnx_graph import GRAPH_VERSION, build
from model.onnx_runtime import KNOWN_ANSWER_TEXT, KNOWN_ANSWERS, PROBE, _publish, _session, mean_pool, run_session
from training.data import load_labelled

from .conftest import FIXTURES, SHIPPED

torch = pytest.importorskip("torch", reason="torch is the reference for the graph; install the train extra")

HOSTILE = [
    "x",
    "ALL CAPS!!! 🙂🙂🙂 visit w w w . example . com",
    "Ünïcödé, 中文, العربية and emoji 🧵 in one comment",
    "word " * 200,  # longer than max_length: truncated
    "\t  spaced   out\n\nlines  ",
]
# Measured on the fixtures with ONNX Runtime 1.32: the int8 encoders quantised from the two graphs gave the
# shipped model identical scores (max difference 0.0); the bound leaves room for another runtime's rounding.
SCORE_TOLERANCE = 1e-4


def _texts() -> list[str]:
    data = load_labelled([FIXTURES / "tiny.jsonl", FIXTURES / "eval_small.jsonl"])
    return [*PROBE, *HOSTILE, *(c.text for c in data.comments()[:30])]


def _torch_export(folder: Path, tokenizer: Tokenizer, target: Path) -> None:
    """What model/onnx_runtime.py did before the graph builder: torch.onnx over transformers' BertModel."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tokenizer(PROBE[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden().eval(), tuple(torch.from_numpy(sample[n]) for n in names), str(target), input_names=names,
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
        )  # fmt: skip


def test_the_graph_pools_to_torchs_vectors(tmp_path: Path) -> None:
    from transformers import AutoModel

    folder = EmbedderConfig().folder()
    tokenizer = Tokenizer(folder, 128)
    path = tmp_path / "encoder.onnx"
    onnx.save(build(folder), str(path))
    session = _session(path, 1)
    encoder = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    texts = _texts()
    assert len(texts) >= 36
    for start in range(0, len(texts), 8):  # batches of mixed lengths: padding inside each
        batch = tokenizer(texts[start : start + 8])
        with torch.inference_mode():
            hidden = encoder(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state.numpy()
        np.testing.assert_allclose(run_session(session, batch), mean_pool(hidden, batch["attention_mask"]), atol=1e-5)
    # The numbers a torch-less install checks a new encoder against are torch's.
    probe = run_session(session, tokenizer(PROBE))[KNOWN_ANSWER_TEXT, :8]
    np.testing.assert_allclose(probe, KNOWN_ANSWERS[BUNDLED_SHA256], atol=1e-5)


def _scores(cache: Path, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    monkeypatch.setenv("COMMENT_MODERATION_CACHE", str(cache))
    _load_once.cache_clear()
    comments = load_labelled([FIXTURES / "tiny.jsonl", FIXTURES / "eval_small.jsonl"]).comments()
    return load_model(SHIPPED).estimator.predict_proba(comments)


def test_the_shipped_model_labels_the_fixtures_as_with_the_torch_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """models/default runs on int8 embeddings: quantised from either graph, the labels and scores agree."""
    assert load_model(SHIPPED).estimator.embedder_.config.precision == "int8"
    monkeypatch.delenv("COMMENT_MODERATION_RUNTIME", raising=False)
    ours = _scores(tmp_path / "graph", monkeypatch)
    assert next((tmp_path / "graph").glob(f"*-g{GRAPH_VERSION}-int8.onnx")), "the int8 encoder was made from our graph"
    # Today's encoder, put where the service looks for one: the service then quantises torch's export.
    today = tmp_path / "torch"
    today.mkdir()
    folder = EmbedderConfig().folder()
    name = f"encoder-{BUNDLED_SHA256[:16]}-g{GRAPH_VERSION}.onnx"
    _torch_export(folder, Tokenizer(folder, 128), today / "candidate.onnx")
    meta = {"weights_sha256": BUNDLED_SHA256, "graph": f"model/onnx_graph.py v{GRAPH_VERSION}"}
    _publish(today, today / "candidate.onnx", today / name, meta)
    theirs = _scores(today, monkeypatch)
    _load_once.cache_clear()
    assert len(ours) == 76
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    assert np.abs(ours - theirs).max() <= SCORE_TOLERANCE, np.abs(ours - theirs).max()
