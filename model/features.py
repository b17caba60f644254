"""Feature blocks: each turns a list of comments into a matrix; the classifier stacks the blocks it is given.

A block is named in the model's config, so a saved artifact records exactly which evidence it uses.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from .auxiliary import AuxiliaryDetectors, PublicScores
from .embeddings import Embedder
from .fastpath import hstack_csr, tfidf_transform
from .inputs import Comment
from .lexicon import LEXICON_NAMES, lexicon_features
from .normalize import normalize
from .relevance import Relevance
from .scaling import standardize
from .signals import SIGNAL_NAMES, signal_matrix


class FeatureBlock(Protocol):
    name: str

    def fit(self, comments: list[Comment], normalized: list[str]) -> "FeatureBlock": ...

    def transform(self, comments: list[Comment], normalized: list[str]) -> sp.spmatrix | np.ndarray: ...

    def feature_names(self) -> list[str]: ...


class WordNgrams:
    """Word uni- and bi-grams: what a comment talks about."""

    name = "word"

    def __init__(self, max_features: int = 100_000, min_df: int = 2) -> None:
        self.vectorizer = TfidfVectorizer(
            lowercase=True,
            ngram_range=(1, 2),
            min_df=min_df,
            max_features=max_features,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )

    def fit(self, comments: list[Comment], normalized: list[str]) -> "WordNgrams":
        self.vectorizer.fit(normalized)
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> sp.spmatrix:
        return tfidf_transform(self.vectorizer, normalized)

    def feature_names(self) -> list[str]:
        return [f"word:{w}" for w in self.vectorizer.get_feature_names_out()]


class CharNgrams:
    """Character 2-5-grams inside word boundaries: robust to typos, masks ("f*ck") and new spellings."""

    name = "char"

    def __init__(self, max_features: int = 150_000, min_df: int = 2) -> None:
        self.vectorizer = TfidfVectorizer(
            lowercase=True,
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=min_df,
            max_features=max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )

    def fit(self, comments: list[Comment], normalized: list[str]) -> "CharNgrams":
        self.vectorizer.fit(normalized)
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> sp.spmatrix:
        return tfidf_transform(self.vectorizer, normalized)

    def feature_names(self) -> list[str]:
        return [f"char:{g!r}" for g in self.vectorizer.get_feature_names_out()]


class Signals:
    """SIGNAL_NAMES, standardised so one weight scale fits them and the sparse n-grams."""

    name = "signals"

    def __init__(self) -> None:
        self.scaler = StandardScaler()
        # digit_ratio is counted on the normalised text (leetspeak is not a number). Recorded so that a pickle made
        # before 2026-11-29, which counted the raw text and lacks the attribute, is refused at load (model/artifact.py).
        self.digit_ratio_of = "normalized"

    def fit(self, comments: list[Comment], normalized: list[str]) -> "Signals":
        self.scaler.fit(self._matrix(comments, normalized))
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self.scale(self.counts(comments, normalized))

    def counts(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        """The values before standardising: FeatureMatrix.counts keeps them for serve/ to read."""
        return self._matrix(comments, normalized)

    def scale(self, counts: np.ndarray) -> np.ndarray:
        return standardize(self.scaler, counts)

    def _matrix(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return signal_matrix(comments, normalized)

    def feature_names(self) -> list[str]:
        return [f"signal:{n}" for n in SIGNAL_NAMES]


class LexiconBlock:
    """LEXICON_NAMES (hand-written insult, profanity and threat lists), standardised like the signals."""

    name = "lexicon"

    def __init__(self) -> None:
        self.scaler = StandardScaler()

    @staticmethod
    def _matrix(normalized: list[str]) -> np.ndarray:
        return np.array([lexicon_features(n) for n in normalized], dtype=np.float64).reshape(-1, len(LEXICON_NAMES))

    def fit(self, comments: list[Comment], normalized: list[str]) -> "LexiconBlock":
        self.scaler.fit(self._matrix(normalized))
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self.scale(self.counts(comments, normalized))

    def counts(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self._matrix(normalized)

    def scale(self, counts: np.ndarray) -> np.ndarray:
        return standardize(self.scaler, counts)

    def feature_names(self) -> list[str]:
        return [f"lexicon:{n}" for n in LEXICON_NAMES]


class SentenceEmbedding:
    """The comment's sentence embedding: meaning beyond the exact words (new phrasings of spam or insults)."""

    name = "embedding"
    needs_embedder = True

    def __init__(self, embedder: Embedder, scale: float = 2.0) -> None:
        self.embedder = embedder
        # Unit vectors spread over 384 dims have tiny coordinates (~0.05); scaling lets one C fit them and
        # the TF-IDF blocks alike. 2.0 was the best of 1/2/4 on held-out data (see bench/results).
        self.scale = scale

    def fit(self, comments: list[Comment], normalized: list[str]) -> "SentenceEmbedding":
        self.dim_ = self.embedder.dim
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self.scale * self.embedder.embed(normalized)

    def feature_names(self) -> list[str]:
        return [f"embedding:{i}" for i in range(self.dim_)]

    def texts_to_embed(self, comments: list[Comment], normalized: list[str]) -> list[str]:
        return normalized


BLOCKS: dict[str, Callable[..., FeatureBlock]] = {
    "word": WordNgrams,
    "char": CharNgrams,
    "signals": Signals,
    "lexicon": LexiconBlock,
    "embedding": SentenceEmbedding,
    "relevance": Relevance,
    "public": PublicScores,
}
# Blocks whose values depend on the comment's article; a model using one reads article_title/article_body.
ARTICLE_BLOCKS = frozenset({"relevance"})


def make_blocks(
    names: tuple[str, ...], embedder: Embedder | None = None, auxiliary: AuxiliaryDetectors | None = None
) -> list[FeatureBlock]:
    """Fresh blocks; those that embed text share `embedder`, so each text is embedded once per fit."""
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown feature block(s) {unknown}; expected names from {sorted(BLOCKS)}")
    if "public" in names and auxiliary is None:
        raise ValueError(
            "feature block 'public' needs detectors trained on public data; train with "
            "`python -m training.fit --public ../shared/data/public` or drop 'public' from features"
        )
    blocks: list[FeatureBlock] = []
    for n in names:
        if n == "public":
            blocks.append(PublicScores(auxiliary))
        elif getattr(BLOCKS[n], "needs_embedder", False):
            blocks.append(BLOCKS[n](embedder or Embedder()))
        else:
            blocks.append(BLOCKS[n]())
    return blocks


def normalize_all(comments: list[Comment]) -> list[str]:
    return [normalize(c.text) for c in comments]


@dataclass(frozen=True)
class FeatureMatrix:
    """What the linear layer reads (`matrix`, every block stacked) and each block's own columns by block name.

    Kept together so a caller that wants probabilities, an explanation and a block's values (the service
    reports relevance) computes the features once, not once per use. `normalized` is each comment's
    model.normalize.normalize text, the one every block read: explanations and copy-paste reuse it.
    """

    matrix: sp.csr_matrix
    blocks: dict[str, Any]
    normalized: list[str]
    # The signals' and lexicon's values before standardising, by block name: what fired, in its own units.
    counts: dict[str, np.ndarray]


# One thread that embeds ahead (see _embed_ahead); the encoder has its own threads (model/embeddings.py).
_AHEAD = ThreadPoolExecutor(1, thread_name_prefix="embed-ahead")


def _embed_ahead(blocks: list[FeatureBlock], comments: list[Comment], normalized: list[str]) -> Future | None:
    """Start embedding every text the embedding blocks will ask for, in the background.

    Why: the encoder releases the GIL, so the n-gram and signal blocks run meanwhile instead of after it
    (on 2 cores, the cores sat half idle during a batch otherwise), and all the texts go to the encoder in
    one length-sorted call. The blocks then find their vectors in the embedder's memory. An embedder that
    remembers nothing (cache_size=0) would embed everything twice, so it is left alone.
    """
    wanting: list[Any] = [b for b in blocks if hasattr(b, "texts_to_embed")]  # the embedding blocks (duck-typed)
    embedders = {id(b.embedder): b.embedder for b in wanting}
    if len(comments) < 2 or len(embedders) != 1:
        return None
    (embedder,) = embedders.values()
    texts = list(dict.fromkeys(t for b in wanting for t in b.texts_to_embed(comments, normalized)))
    if embedder.cache_size < len(texts):
        return None
    return _AHEAD.submit(embedder.embed, texts)


def transform_blocks(blocks: list[FeatureBlock], comments: list[Comment], normalized: list[str]) -> FeatureMatrix:
    ahead = _embed_ahead(blocks, comments, normalized)
    parts, counts = {}, {}
    # Blocks that do not embed first, while the encoder works; the order of the columns stays the blocks'.
    for block in sorted(blocks, key=lambda b: hasattr(b, "texts_to_embed")):
        if ahead is not None and hasattr(block, "texts_to_embed"):
            ahead.result()  # also re-raises an embedding error here, in the caller's thread
        if isinstance(block, Signals | LexiconBlock):  # their unscaled values are kept for serve/
            counts[block.name] = block.counts(comments, normalized)
            parts[block.name] = block.scale(counts[block.name])
        else:
            parts[block.name] = block.transform(comments, normalized)
    parts = {block.name: parts[block.name] for block in blocks}
    matrix = hstack_csr(list(parts.values()), dtype=np.float64)
    return FeatureMatrix(matrix, parts, normalized, counts)


def stack(blocks: list[FeatureBlock], comments: list[Comment], normalized: list[str]) -> sp.csr_matrix:
    return transform_blocks(blocks, comments, normalized).matrix
