"""The feature blocks of a portable model: numpy arrays and the project's own text code, no scikit-learn.

Each block computes what its namesake in model/features.py (or model/relevance.py) computes, with the same
arithmetic in the same dtypes, from the arrays the export wrote: a block's spec in model.json names its
kind and parameters, and its arrays are `<name>.<field>` in arrays.npz.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from ..embeddings import Embedder
from ..inputs import Comment
from ..lexicon import LEXICON_NAMES, lexicon_features
from ..modeldir import ArtifactError
from ..relevance import RELEVANCE_NAMES, fill_missing, raw_relevance
from ..scaling import standardize
from ..signals import SIGNAL_NAMES, signal_matrix
from .sparse import Rows
from .text import analyzer


@dataclass(frozen=True)
class Standardizer:
    """A fitted StandardScaler's transform; attribute names as scikit-learn's, which serve/ reads."""

    mean_: np.ndarray
    scale_: np.ndarray
    with_mean: bool = True
    with_std: bool = True

    def transform(self, X: np.ndarray) -> np.ndarray:
        return standardize(self, X)


class TfidfBlock:
    """The "word" or "char" block: a TfidfVectorizer's transform (counts, sublinear tf, idf, l2 norm) over its vocabulary."""

    def __init__(self, name: str, spec: Mapping[str, Any], terms: np.ndarray, idf: np.ndarray) -> None:
        self.name = name
        self.terms = terms
        self.vocabulary = {term: i for i, term in enumerate(terms.tolist())}
        self.idf = idf
        self.dtype = np.dtype(spec["dtype"])
        self.sublinear_tf = bool(spec["sublinear_tf"])
        self.analyze = analyzer(spec["analyzer"], tuple(spec["ngram_range"]), spec["lowercase"], spec["token_pattern"])
        self.label = "char" if spec["analyzer"] != "word" else "word"

    @property
    def columns(self) -> int:
        return len(self.terms)

    def transform(self, comments: list[Comment], normalized: list[str]) -> Rows:
        # Each text's terms as column numbers (-1: not in the vocabulary), looked up without a Python loop.
        lookup = self.vocabulary.get
        found = [np.fromiter(map(lookup, self.analyze(doc), repeat(-1)), dtype=np.int64) for doc in normalized]
        rows = np.repeat(np.arange(len(normalized)), [len(f) for f in found])
        terms = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        known = terms >= 0
        # One key per (row, column): unique keys come sorted by row, then column, as scikit-learn orders them.
        keys, counts = np.unique(rows[known] * self.columns + terms[known], return_counts=True)
        indptr = np.zeros(len(normalized) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // self.columns, minlength=len(normalized)), out=indptr[1:])
        values, columns = counts.astype(self.dtype), keys % self.columns
        # model.fastpath.tfidf_transform, operation for operation, so the values are the same to the bit.
        if self.sublinear_tf:
            np.log(values, values)
            values += 1.0
        values *= self.idf[columns]
        X = Rows(values, columns, indptr, self.columns)
        X.normalize_rows_l2()
        return X

    def feature_names(self) -> list[str]:
        if self.label == "word":
            return [f"word:{t}" for t in self.terms.tolist()]
        return [f"char:{t!r}" for t in self.terms.tolist()]


class ScaledBlock:
    """The "signals" or "lexicon" block: the project's hand-made features of a comment, standardised."""

    NAMES: Mapping[str, tuple[str, ...]] = {"signals": SIGNAL_NAMES, "lexicon": LEXICON_NAMES}
    PREFIX: Mapping[str, str] = {"signals": "signal", "lexicon": "lexicon"}

    def __init__(self, name: str, spec: Mapping[str, Any], scaler: Standardizer) -> None:
        self.name = name
        self.scaler = scaler
        self.names = self.NAMES[name]
        if spec.get("digit_ratio_of", "normalized") != "normalized":
            # Exported from a pickle made before 2026-11-29, which counted digits on the raw text.
            raise ArtifactError(
                f"block {name!r} counts digit_ratio on the {spec['digit_ratio_of']!r} text, which this release no "
                "longer computes (it counts the normalised text since 2026-11-29); retrain with `python -m training.fit`"
            )

    @property
    def columns(self) -> int:
        return len(self.names)

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return self.scaler.transform(self.counts(comments, normalized))

    def counts(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        """The values before standardising: Features.counts keeps them for serve/ to read."""
        if self.name == "signals":
            return signal_matrix(comments, normalized)
        return np.array([lexicon_features(n) for n in normalized], dtype=np.float64).reshape(-1, self.columns)

    def feature_names(self) -> list[str]:
        return [f"{self.PREFIX[self.name]}:{n}" for n in self.names]


class EmbeddingBlock:
    """The "embedding" block: the comment's sentence embedding, scaled."""

    name = "embedding"

    def __init__(self, spec: Mapping[str, Any], embedder: Embedder) -> None:
        self.embedder = embedder
        self.scale = float(spec["scale"])
        self.columns = int(spec["columns"])

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        vectors = self.embedder.embed(normalized)
        if vectors.shape[1] != self.columns:
            raise ArtifactError(
                f"the encoder gives {vectors.shape[1]}-dimensional vectors, but the model's embedding block was "
                f"trained on {self.columns}; the encoder is not the one the model names. Reinstall it or retrain"
            )
        return self.scale * vectors

    def texts_to_embed(self, comments: list[Comment], normalized: list[str]) -> list[str]:
        return normalized

    def feature_names(self) -> list[str]:
        return [f"embedding:{i}" for i in range(self.columns)]


class RelevanceBlock:
    """The "relevance" block: how related a comment is to its article (model/relevance.py), standardised."""

    name = "relevance"
    reads_article = True
    columns = len(RELEVANCE_NAMES)

    def __init__(self, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], embedder: Embedder) -> None:
        self.embedder = embedder
        self.n_docs = int(spec["n_docs"])
        self.idf = dict(zip(arrays["relevance.idf_words"].tolist(), arrays["relevance.idf"].tolist(), strict=True))
        self.ignored = frozenset(arrays["relevance.ignored"].tolist())
        self.neutral = arrays["relevance.neutral"]
        self.scaler_ = _standardizer(spec, arrays, "relevance")

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        raw = raw_relevance(self.embedder, comments, normalized, self.idf, self.n_docs, self.ignored)
        return self.scaler_.transform(fill_missing(raw, self.neutral))

    def texts_to_embed(self, comments: list[Comment], normalized: list[str]) -> list[str]:
        return [normalized[i] for i, c in enumerate(comments) if c.has_article]

    def feature_names(self) -> list[str]:
        return [f"relevance:{n}" for n in RELEVANCE_NAMES]


class PublicBlock:
    """The "public" block: the logit of each detector the public recipe trained (model/auxiliary.py), each a
    binary logistic regression over [char n-gram tf-idf | embedding_scale x the sentence embedding]."""

    name = "public"

    def __init__(self, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], embedder: Embedder) -> None:
        self.embedder = embedder
        self.kinds = [str(k) for k in spec["kinds"]]
        self.scale = float(spec["embedding_scale"])
        self.vectorizers = {}
        self.weights = {}
        for kind in self.kinds:
            prefix = f"public.{kind}"
            vectorizer = TfidfBlock(prefix, spec["detectors"][kind], arrays[f"{prefix}.terms"], arrays[f"{prefix}.idf"])
            coef, intercept = arrays[f"{prefix}.coef"], arrays[f"{prefix}.intercept"]
            if coef.shape[0] != 1 or coef.shape[1] <= vectorizer.columns or intercept.shape != (1,):
                raise ArtifactError(
                    f"block 'public': detector {kind!r} has coefficients {coef.shape} and intercept {intercept.shape}, "
                    f"expected (1, {vectorizer.columns} + the embedding's size) and (1,)"
                )
            self.vectorizers[kind], self.weights[kind] = vectorizer, (coef, float(intercept[0]))

    @property
    def columns(self) -> int:
        return len(self.kinds)

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        embedded = self.scale * self.embedder.embed(normalized)
        out = np.zeros((len(normalized), self.columns))
        for k, kind in enumerate(self.kinds):
            vectorizer, (coef, intercept) = self.vectorizers[kind], self.weights[kind]
            n_terms = vectorizer.columns
            if embedded.shape[1] != coef.shape[1] - n_terms:
                raise ArtifactError(
                    f"the encoder gives {embedded.shape[1]}-dimensional vectors, but the public detector {kind!r} was "
                    f"trained on {coef.shape[1] - n_terms}; the encoder is not the one the model names"
                )
            sparse = vectorizer.transform(comments, normalized).dot_transposed(coef[:, :n_terms])[:, 0]
            out[:, k] = sparse + embedded @ coef[0, n_terms:] + intercept
        return out

    def texts_to_embed(self, comments: list[Comment], normalized: list[str]) -> list[str]:
        return normalized

    def feature_names(self) -> list[str]:
        return [f"public:{k}" for k in self.kinds]


Block = TfidfBlock | ScaledBlock | EmbeddingBlock | RelevanceBlock | PublicBlock
# What each block's spec must hold besides its name and kind, checked before any block is built.
_COLUMN_NAMES: Mapping[str, tuple[str, ...]] = {
    "signals": SIGNAL_NAMES,
    "lexicon": LEXICON_NAMES,
    "relevance": RELEVANCE_NAMES,
}


def build_block(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], embedder: Callable[[], Embedder]) -> Block:
    """The block `spec` describes; `embedder` gives the model's one shared Embedder."""
    name = spec.get("name")
    expected = _COLUMN_NAMES.get(str(name))
    if expected is not None and tuple(spec.get("names", ())) != expected:
        raise ArtifactError(
            f"model.json: block {name!r} has columns {spec.get('names')}, but this code computes {list(expected)}; "
            "load the model with the code version it was exported from, or retrain and export it again"
        )
    if name in ("word", "char"):
        return TfidfBlock(name, spec, arrays[f"{name}.terms"], arrays[f"{name}.idf"])
    if name in ("signals", "lexicon"):
        return ScaledBlock(name, spec, _standardizer(spec, arrays, name))
    if name == "embedding":
        return EmbeddingBlock(spec, embedder())
    if name == "relevance":
        return RelevanceBlock(spec, arrays, embedder())
    if name == "public":
        return PublicBlock(spec, arrays, embedder())
    raise ArtifactError(
        f"model.json names feature block {name!r}, which a portable model cannot compute; "
        "expected one of word, char, signals, lexicon, embedding, relevance, public"
    )


def _standardizer(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], name: str) -> Standardizer:
    scaler = spec["scaler"]
    return Standardizer(arrays[f"{name}.mean"], arrays[f"{name}.scale"], scaler["with_mean"], scaler["with_std"])
