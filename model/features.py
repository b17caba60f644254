"""Feature blocks: each turns a list of comments into a matrix; the classifier stacks the blocks it is given.

A block is named in the model's config, so a saved artifact records exactly which evidence it uses.
"""

from collections.abc import Callable
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from .auxiliary import AuxiliaryDetectors, PublicScores
from .embeddings import Embedder
from .inputs import Comment
from .lexicon import LEXICON_NAMES, lexicon_features
from .normalize import normalize
from .relevance import Relevance
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
        return self.vectorizer.transform(normalized)

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
        return self.vectorizer.transform(normalized)

    def feature_names(self) -> list[str]:
        return [f"char:{g!r}" for g in self.vectorizer.get_feature_names_out()]


class Signals:
    """SIGNAL_NAMES, standardised so one weight scale fits them and the sparse n-grams."""

    name = "signals"

    def __init__(self) -> None:
        self.scaler = StandardScaler()

    def fit(self, comments: list[Comment], normalized: list[str]) -> "Signals":
        self.scaler.fit(signal_matrix(comments, normalized))
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self.scaler.transform(signal_matrix(comments, normalized))

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
        return self.scaler.transform(self._matrix(normalized))

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


def stack(blocks: list[FeatureBlock], comments: list[Comment], normalized: list[str]) -> sp.csr_matrix:
    parts = [block.transform(comments, normalized) for block in blocks]
    return sp.hstack([sp.csr_matrix(p) for p in parts], format="csr", dtype=np.float64)
