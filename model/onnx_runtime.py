"""ONNX Runtime for the sentence encoder: written once from the verified weights, cached, checked.

Why: on 2 cores ONNX Runtime embeds one comment in about half the time torch takes, at the same output
(bench/speed.py measures both side by side), and a process that finds the encoder cached never imports torch,
so it starts faster and uses less memory.

How: model/onnx_graph.py writes the BERT graph from model.safetensors with numpy and `onnx`, so a serving
install needs no torch at all. It is the graph torch.onnx wrote (same outputs, bit for bit on the bundled
weights), and it is used whether or not torch is installed, so training and serving hosts quantise the same
graph to the same int8 encoder.

Trust: the encoder is written here, from weights whose sha256 was just verified, and is only used when its
output matches torch's (cosine > MIN_COSINE on PROBE texts); without torch, when it matches torch's vector
written down for the bundled weights (KNOWN_ANSWERS). A sidecar JSON records the file's own sha256 and the
graph builder's version, checked on every load; a cache file that fails any check is written again, never used.

Precision "int8" (the default for models trained since it was measured): the fp32 encoder, its weights
quantised to int8 per channel by ONNX Runtime (dynamic quantisation), cached and checked the same way. Its
vectors are not the fp32 ones (cosine ~0.99), so it is not a drop-in runtime under an fp32-trained model:
a model is trained and served at one precision, recorded in its artifact. It is run one text per call,
because dynamic quantisation makes a text's vector depend on its batch-mates. Speed and task metrics
against fp32: bench/results/encoder.md.
"""

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .checksum import sha256_file

# Same fidelity bar as the issue that asked for ONNX: anything lower changes what the classifier sees.
MIN_COSINE = 0.999
# int8 is a different (quantised) encoder, judged by task metrics; this bar only catches a broken
# quantisation. Measured on PROBE: 0.970 to 0.993.
MIN_COSINE_INT8 = 0.9
PRECISIONS = ("fp32", "int8")
# Short and long, plain and hostile, with padding inside a batch: the shapes the service sees.
PROBE = [
    "ok",
    "Great article, thanks for sharing! Keep up the good work.",
    "you are an absolute idiot and everyone here knows it",
    "The council voted 5-2 to close the Elm Street library on Sundays; the 40,000 saved is a rounding error "
    "next to the parking budget, and Sunday is when students actually use it.",
    "CALL +1 (888) 555-0143 for 24/7 printer support!!! xxurl",
]
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Without torch, a new encoder is checked against torch's vector for PROBE[0] (its first 8 dimensions),
# written down for the bundled weights (tests/test_onnx_graph.py checks these numbers against torch). "ok" is
# 3 word pieces, read whole at any max_length, and padded to the batch's longest text: the mask is checked too.
KNOWN_ANSWER_TEXT = 0
KNOWN_ANSWERS = {
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db": np.array(
        [-0.046124, -0.059069, -0.021885, 0.016941, 0.045277, -0.017278, 0.026445, 0.06383], dtype=np.float32
    ),
}
# Rounding to 6 decimals plus float noise (the graph is within 1e-6 of torch).
KNOWN_ANSWER_TOLERANCE = 1e-5
log = logging.getLogger(__name__)


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime cannot be used here (not installed, cache not writable, encoder not writable or differs)."""


def cache_dir() -> Path:
    """Where encoders live: $COMMENT_MODERATION_CACHE, else $XDG_CACHE_HOME or ~/.cache, /comment-moderation."""
    if os.environ.get("COMMENT_MODERATION_CACHE"):
        return Path(os.environ["COMMENT_MODERATION_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "comment-moderation"


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of token vectors over real (unpadded) tokens, L2-normalised: the all-MiniLM-L6-v2 pooling."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads spin-wait by default; on a small box that shares its cores with the web server, spinning
    # steals the core the request handler needs. Off, they sleep.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_session(session: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    feeds = {name: batch[name].astype(np.int64) for name in INPUT_NAMES if name in batch}
    return mean_pool(session.run(None, feeds)[0], batch["attention_mask"])


def _cached(model_path: Path, expected: dict[str, str]) -> bool:
    """Whether model_path and its sidecar exist, the sidecar says `expected` and the file's sha256 matches."""
    sidecar = model_path.with_suffix(".json")
    if not (model_path.is_file() and sidecar.is_file()):
        return False
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # unreadable or torn sidecar: make it again
    return all(meta.get(k) == v for k, v in expected.items()) and meta.get("onnx_sha256") == sha256_file(model_path)


def _publish(tmp: Path, candidate: Path, model_path: Path, meta: dict[str, Any]) -> None:
    """Sidecar next to the checked candidate, then both renamed into place (atomic: a reader, say another
    worker exporting at the same time, sees whole files only)."""
    sidecar = model_path.with_suffix(".json")
    meta = {**meta, "onnx_sha256": sha256_file(candidate)}
    (tmp / sidecar.name).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    os.replace(candidate, model_path)
    os.replace(tmp / sidecar.name, sidecar)


def _check_fp32(
    candidate: Path,
    weights_sha256: str,
    tokenizer: Callable[[list[str]], dict[str, np.ndarray]],
    torch_reference: Callable[[], Callable[[list[str]], np.ndarray] | None],
) -> dict[str, Any]:
    """Compare the candidate with torch when installed, else with the known answer; what was checked, for the sidecar."""
    vectors = run_session(_session(candidate, 1), tokenizer(PROBE))
    reference = torch_reference()
    if reference is not None:
        cosine = (vectors * reference(PROBE)).sum(axis=1)
        if float(cosine.min()) <= MIN_COSINE:
            raise OnnxUnavailable(
                f"ONNX encoder differs from torch (min cosine {cosine.min():.6f}, expected > {MIN_COSINE})"
            )
        return {"min_cosine_vs_torch": round(float(cosine.min()), 7)}
    if weights_sha256 in KNOWN_ANSWERS:
        error = float(np.abs(vectors[KNOWN_ANSWER_TEXT, :8] - KNOWN_ANSWERS[weights_sha256]).max())
        if error > KNOWN_ANSWER_TOLERANCE:
            raise OnnxUnavailable(
                f"ONNX encoder differs from torch's known answer by {error:.2e} (expected <= {KNOWN_ANSWER_TOLERANCE}); "
                "install torch to diagnose (pip install 'comment-moderation[train]')"
            )
        return {"known_answer_error": error}
    log.warning("ONNX encoder for weights %s checked against nothing: torch is not installed", weights_sha256[:16])
    return {"unchecked": "torch not installed and no known answer for these weights"}


def _fp32_export(
    weights_sha256: str,
    folder: Path,
    tokenizer: Callable[[list[str]], dict[str, np.ndarray]],
    torch_reference: Callable[[], Callable[[list[str]], np.ndarray] | None],
) -> Path:
    from .onnx_graph import GRAPH_VERSION, GraphError, build

    cache = cache_dir()
    # The builder's version is in the name: a graph written differently is a different file, never mixed up
    # with one written before (torch.onnx exports were named without it).
    model_path = cache / f"encoder-{weights_sha256[:16]}-g{GRAPH_VERSION}.onnx"
    expected = {"weights_sha256": weights_sha256, "graph": f"model/onnx_graph.py v{GRAPH_VERSION}"}
    if _cached(model_path, expected):
        return model_path
    try:
        import onnx
    except ImportError as e:
        raise OnnxUnavailable(
            "the onnx package is not installed (pip install onnx), so no encoder can be written"
        ) from e
    try:
        graph = build(folder)
    except GraphError as e:
        raise OnnxUnavailable(str(e)) from e
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            candidate = Path(tmp) / model_path.name
            onnx.save(graph, str(candidate))
            checked = _check_fp32(candidate, weights_sha256, tokenizer, torch_reference)
            _publish(Path(tmp), candidate, model_path, {**expected, **checked})
    except OSError as e:
        raise OnnxUnavailable(f"cannot write the ONNX encoder to {cache} ({e}); set COMMENT_MODERATION_CACHE") from e
    return model_path


def _int8_export(fp32_path: Path, weights_sha256: str, tokenizer: Callable[[list[str]], dict[str, np.ndarray]]) -> Path:
    import onnxruntime as ort

    model_path = fp32_path.with_name(f"{fp32_path.stem}-int8.onnx")
    # Keyed on the ONNX Runtime version too: another version may quantise differently.
    expected = {
        "weights_sha256": weights_sha256,
        "source_sha256": sha256_file(fp32_path),
        "onnxruntime": ort.__version__,
    }
    if _cached(model_path, expected):
        return model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with tempfile.TemporaryDirectory(dir=fp32_path.parent) as tmp:
            candidate = Path(tmp) / model_path.name
            quantize_dynamic(str(fp32_path), str(candidate), per_channel=True, weight_type=QuantType.QInt8)
            # One text per call, as int8 is run (model/embeddings.py says why).
            fp32_session, int8_session = _session(fp32_path, 1), _session(candidate, 1)
            batches = [tokenizer([text]) for text in PROBE]
            fp32 = np.vstack([run_session(fp32_session, b) for b in batches])
            cosine = (np.vstack([run_session(int8_session, b) for b in batches]) * fp32).sum(axis=1)
            if float(cosine.min()) <= MIN_COSINE_INT8:
                raise OnnxUnavailable(f"int8 quantisation is broken here (min cosine to fp32 {cosine.min():.4f})")
            _publish(
                Path(tmp), candidate, model_path, {**expected, "min_cosine_vs_fp32": round(float(cosine.min()), 5)}
            )
    except OSError as e:
        raise OnnxUnavailable(f"cannot write the int8 encoder to {fp32_path.parent} ({e})") from e
    return model_path


def load_or_export(
    weights_sha256: str,
    folder: Path,
    threads: int,
    tokenizer: Callable[[list[str]], dict[str, np.ndarray]],
    torch_reference: Callable[[], Callable[[list[str]], np.ndarray] | None],
    precision: str = "fp32",
) -> Any:
    """An ONNX Runtime session for the weights in `folder` at this precision, from the cache or made and checked.

    torch_reference is called only when an encoder is written; it returns torch's embedding function to
    compare against, or None when torch is not installed (so a cache hit never imports torch).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime)") from e
    path = _fp32_export(weights_sha256, folder, tokenizer, torch_reference)
    if precision == "int8":
        path = _int8_export(path, weights_sha256, tokenizer)
    return _session(path, threads)
