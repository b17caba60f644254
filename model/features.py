"""Feature blocks: each turns a list of comments into a matrix; the classifier stacks the blocks it is given.

A block is named in the model's config, so a saved artifact records exactly which evidence it uses.
"""

from collections.abc import Callable
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from .inputs import Comment
from .normalize import normalize
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


BLOCKS: dict[str, Callable[[], FeatureBlock]] = {
    "word": WordNgrams,
    "char": CharNgrams,
    "signals": Signals,
}


def make_blocks(names: tuple[str, ...]) -> list[FeatureBlock]:
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown feature block(s) {unknown}; expected names from {sorted(BLOCKS)}")
    return [BLOCKS[n]() for n in names]


def normalize_all(comments: list[Comment]) -> list[str]:
    return [normalize(c.text) for c in comments]


def stack(blocks: list[FeatureBlock], comments: list[Comment], normalized: list[str]) -> sp.csr_matrix:
    parts = [block.transform(comments, normalized) for block in blocks]
    return sp.hstack([sp.csr_matrix(p) for p in parts], format="csr", dtype=np.float64)
