"""Auxiliary binary detectors trained on public datasets, whose scores become features of the main model.

Each public dataset speaks to one question only: TubeSpam says spam or not, OLID / Davidson / TweetEval /
Wikipedia say toxic or not, SFU says constructive or not. None of them says which of our three labels a
comment has: a non-toxic tweet is not a substantive news comment, and a ham YouTube comment ("love this
song") would be spam under an article. So instead of relabelling them into our schema (or treating them as
partially labelled rows of the 3-way model, which would still let a dataset's domain leak into the other
labels' decision), each question gets its own detector trained on exactly the rows that answer it. The main
3-way classifier, trained on data/ only, then learns how much to trust each detector's logit next to its
other evidence. Because no detector ever sees data/, its scores on data/ are already out-of-sample: no
out-of-fold stacking is needed and the main model's calibration stays honest.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .embeddings import Embedder
from .inputs import Comment

# The questions public datasets answer, in the column order of PublicScores.
KINDS: tuple[str, ...] = ("toxic", "spam", "constructive")


@dataclass
class DetectorData:
    """Rows answering one question (label 1 = yes), with the dataset each came from."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


class AuxiliaryDetectors:
    """One logistic regression per kind over char n-grams + the sentence embedding of normalised text."""

    def __init__(self, embedder: Embedder, C: float = 1.0, embedding_scale: float = 2.0) -> None:
        self.embedder = embedder
        self.C = C
        self.embedding_scale = embedding_scale

    def fit(self, data: dict[str, DetectorData], datasets: list[dict[str, Any]]) -> "AuxiliaryDetectors":
        """`data` maps a kind to its rows (normalised texts); `datasets` is recorded as provenance."""
        unknown = sorted(set(data) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown detector kind(s) {unknown}; expected some of {list(KINDS)}")
        self.kinds_ = tuple(k for k in KINDS if k in data and len(set(data[k].labels)) == 2)
        self.datasets_ = datasets
        self.vectorizers_: dict[str, TfidfVectorizer] = {}
        self.models_: dict[str, LogisticRegression] = {}
        for kind in self.kinds_:
            rows = data[kind]
            vec = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), min_df=3, max_features=60_000, sublinear_tf=True
            )
            X = sp.hstack([vec.fit_transform(rows.texts), self._embedded(rows.texts)], format="csr")
            model = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
            model.fit(X, rows.labels, sample_weight=_per_dataset_weights(rows.datasets))
            self.vectorizers_[kind], self.models_[kind] = vec, model
        return self

    def _embedded(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedding_scale * self.embedder.embed(list(texts))

    def decision(self, normalized: Sequence[str]) -> np.ndarray:
        """Logit of each fitted kind (columns in `kinds_` order)."""
        emb = self._embedded(normalized)
        cols = []
        for kind in self.kinds_:
            X = sp.hstack([self.vectorizers_[kind].transform(normalized), emb], format="csr")
            cols.append(self.models_[kind].decision_function(X))
        return np.column_stack(cols) if cols else np.zeros((len(normalized), 0))


def _per_dataset_weights(datasets: list[str]) -> np.ndarray:
    """Each dataset weighs the same in total, so 25k Davidson tweets do not drown 1k news comments."""
    names, inverse, counts = np.unique(datasets, return_inverse=True, return_counts=True)
    weights = (len(datasets) / len(names)) / counts[inverse]
    return weights.astype(float)


class PublicScores:
    """Feature block: the auxiliary detectors' logits. Fitting is a no-op: the detectors never see data/."""

    name = "public"

    def __init__(self, detectors: AuxiliaryDetectors | None) -> None:
        self.detectors = detectors

    def fit(self, comments: list[Comment], normalized: list[str]) -> "PublicScores":
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        assert self.detectors is not None  # make_blocks refuses a 'public' block without detectors
        return self.detectors.decision(normalized)

    def feature_names(self) -> list[str]:
        assert self.detectors is not None
        return [f"public:{k}" for k in self.detectors.kinds_]
