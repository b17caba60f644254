"""PortablePredictor: a portable model's blocks, linear layer and temperature, scored with numpy.

It answers what serve/ and bench/ ask of `LoadedModel.estimator`: `predict_proba`, `featurize` (computed once
and passed back as `featurized=`), `explain`, `classes_`, `features`, `blocks_`, `needs_article` and
`embedding_threads`, with CommentClassifier's results (model/classifier.py).
"""

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embedder, EmbedderConfig
from ..inputs import Comment, as_comments
from ..labels import check_label_set
from ..modeldir import ArtifactError, bind_encoder
from ..normalize import normalize
from .blocks import Block, ScaledBlock, build_block
from .files import REEXPORT
from .sparse import Rows

CommentLike = Comment | str | Mapping[str, object]


@dataclass(frozen=True)
class Features:
    """What the linear layer reads (`matrix`, every block side by side) and each block's own values by name;
    the portable counterpart of model.features.FeatureMatrix."""

    matrix: Rows
    blocks: dict[str, Any]
    normalized: list[str]  # each comment's normalize() text, read once by every block and by serve/
    counts: dict[str, np.ndarray]  # the signals' and lexicon's values before standardising, by block name


def softmax(x: np.ndarray) -> np.ndarray:
    """scipy.special.softmax(x, axis=1), as model.calibration.calibrated_proba uses it."""
    shifted = np.exp(x - np.max(x, axis=1, keepdims=True))
    return shifted / np.sum(shifted, axis=1, keepdims=True)


@dataclass(eq=False)
class PortablePredictor:
    """Comments -> probabilities with columns in `classes_` order, from a portable model folder."""

    classes_: np.ndarray
    blocks_: list[Block]
    coef_: np.ndarray
    intercept_: np.ndarray
    temperature_: float
    embedder_: Embedder | None
    metadata: dict[str, Any]
    calibration_: dict[str, Any] = field(default_factory=dict)
    # One thread that embeds ahead while the other blocks run (see featurize); it starts on the first submit.
    _ahead: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="embed-ahead"), repr=False
    )

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks_)

    @property
    def needs_article(self) -> bool:
        """Whether some feature reads the comment's article (it still predicts without one)."""
        return any(getattr(b, "reads_article", False) for b in self.blocks_)

    @property
    def embedding_threads(self) -> int:
        """Threads that embed text in this process when this model scores; 0 when no block embeds."""
        return self.embedder_.threads if self.embedder_ is not None else 0

    # -- scoring ---------------------------------------------------------------------------------------
    def featurize(self, X: Sequence[CommentLike]) -> Features:
        """The features of X, computed once: pass them to predict_proba / explain as `featurized=`."""
        comments = as_comments(X)
        normalized = [normalize(c.text) for c in comments]
        ahead = self._embed_ahead(comments, normalized)
        parts: dict[str, Any] = {}
        counts: dict[str, np.ndarray] = {}
        # Blocks that do not embed first, while the encoder works; the columns keep the blocks' order.
        for block in sorted(self.blocks_, key=lambda b: hasattr(b, "texts_to_embed")):
            if ahead is not None and hasattr(block, "texts_to_embed"):
                ahead.result()  # also re-raises an embedding error here, in the caller's thread
            if isinstance(block, ScaledBlock):  # signals, lexicon: their unscaled values are kept for serve/
                counts[block.name] = block.counts(comments, normalized)
                parts[block.name] = block.scaler.transform(counts[block.name])
            else:
                parts[block.name] = block.transform(comments, normalized)
        parts = {b.name: parts[b.name] for b in self.blocks_}
        rows = [p if isinstance(p, Rows) else Rows.from_dense(np.asarray(p, dtype=np.float64)) for p in parts.values()]
        return Features(Rows.hstack(rows), parts, normalized, counts)

    def _embed_ahead(self, comments: list[Comment], normalized: list[str]) -> Future | None:
        """Embed every text the embedding blocks will ask for in one background call, as
        model.features._embed_ahead does: the encoder releases the GIL, so the n-gram blocks run meanwhile."""
        wanting = [b for b in self.blocks_ if hasattr(b, "texts_to_embed")]
        if len(comments) < 2 or not wanting or self.embedder_ is None:
            return None
        texts = list(dict.fromkeys(t for b in wanting for t in b.texts_to_embed(comments, normalized)))
        if self.embedder_.cache_size < len(texts):
            return None  # it would remember none of them, and embed everything twice
        return self._ahead.submit(self.embedder_.embed, texts)

    def decision_function(self, X: Sequence[CommentLike], featurized: Features | None = None) -> np.ndarray:
        matrix = (self.featurize(X) if featurized is None else featurized).matrix
        return matrix.dot_transposed(self.coef_) + self.intercept_

    def predict_proba(self, X: Sequence[CommentLike], featurized: Features | None = None) -> np.ndarray:
        """Probabilities with columns in `classes_` order; each row sums to 1."""
        return softmax(self.decision_function(X, featurized) / self.temperature_)

    def predict(self, X: Sequence[CommentLike]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    # -- explanation -----------------------------------------------------------------------------------
    @cached_property
    def _feature_names(self) -> list[str]:
        return [name for block in self.blocks_ for name in block.feature_names()]

    def feature_names(self) -> list[str]:
        return self._feature_names

    @cached_property
    def _centred_coef(self) -> np.ndarray:
        # Contributions relative to the mean over labels: what favours this label over the others.
        return self.coef_ - self.coef_.mean(axis=0, keepdims=True)

    def explain(
        self, X: Sequence[CommentLike], top_k: int = 5, featurized: Features | None = None
    ) -> list[dict[str, list[tuple[str, float]]]]:
        """Per comment and label, the features that pushed that label's score up most (weight x value)."""
        matrix = (self.featurize(X) if featurized is None else featurized).matrix
        names, coef = self.feature_names(), self._centred_coef
        out = []
        for i in range(matrix.shape[0]):
            cols, vals = matrix.row(i)
            per_label = {}
            for k, label in enumerate(self.classes_.tolist()):
                contrib = vals * coef[k, cols]
                order = np.argsort(-contrib)[:top_k]
                per_label[label] = [(names[cols[j]], round(float(contrib[j]), 4)) for j in order if contrib[j] > 0]
            out.append(per_label)
        return out


def build_predictor(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], folder: Path) -> PortablePredictor:
    """The predictor a checked model.json and arrays.npz describe; `folder` resolves a shipped encoder."""
    embedder = _Shared(spec.get("encoder"), folder)
    try:
        blocks = [build_block(b, arrays, embedder.get) for b in spec["blocks"]]
        linear = spec["linear"]
        coef, intercept = arrays[linear["coef"]], arrays[linear["intercept"]]
    except KeyError as e:
        raise ArtifactError(
            f"{folder}: model.json or arrays.npz lacks {e}; the folder was not written by this project's export: "
            f"{REEXPORT}"
        ) from e
    try:
        classes = np.array(check_label_set(spec["classes"], f"{folder.name}/model.json `classes`"))
    except ValueError as e:
        raise ArtifactError(f"{e}; {REEXPORT}") from None
    columns = sum(b.columns for b in blocks)
    if coef.shape != (len(classes), columns) or intercept.shape != (len(classes),):
        raise ArtifactError(
            f"{folder}: the linear layer has shape {coef.shape} and {intercept.shape}, expected "
            f"({len(classes)}, {columns}) for {len(classes)} classes and the blocks' {columns} columns; "
            f"the model is inconsistent: {REEXPORT}"
        )
    meta = {**spec.get("metadata", {}), "labels": classes.tolist(), "features": [b.name for b in blocks]}
    return PortablePredictor(
        classes_=classes,
        blocks_=blocks,
        coef_=np.ascontiguousarray(coef),
        intercept_=intercept,
        temperature_=float(linear["temperature"]),
        embedder_=embedder.made,
        metadata=meta,
        calibration_=dict(spec.get("calibration", {})),
    )


class _Shared:
    """The model's one Embedder, made when the first block asks: every embedding block shares its cache."""

    def __init__(self, encoder: Mapping[str, Any] | None, folder: Path) -> None:
        self.encoder, self.folder = encoder, folder
        self.made: Embedder | None = None

    def get(self) -> Embedder:
        if self.made is None:
            if not self.encoder:
                raise ArtifactError(
                    f"{self.folder}: model.json has a block that embeds text but no 'encoder': {REEXPORT}"
                )
            try:
                config = EmbedderConfig(**self.encoder["config"])
            except TypeError as e:
                raise ArtifactError(
                    f"{self.folder}: model.json's encoder config does not fit this code's EmbedderConfig ({e}); "
                    f"load it with the code version it was exported from, or {REEXPORT}"
                ) from e
            self.made = Embedder(bind_encoder(config, self.folder))
        return self.made
