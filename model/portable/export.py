"""A fitted CommentClassifier -> the spec (model.json) and arrays (arrays.npz) of a portable model.

Reads only documented fitted attributes (a vectorizer's `vocabulary_`, `idf_` and parameters, a scaler's
`mean_` and `scale_`, the regression's `coef_` and `intercept_`) and the project's own blocks' attributes, and
refuses a setting the portable blocks do not compute rather than exporting a model that scores differently.
"""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ..lexicon import LEXICON_NAMES
from ..modeldir import ENCODER_DIR, ArtifactError
from ..relevance import RELEVANCE_NAMES, ignored_words
from ..signals import SIGNAL_NAMES
from .text import ANALYZERS

Arrays = dict[str, np.ndarray]
# TfidfVectorizer settings the portable "word" and "char" blocks reproduce; any other value is refused.
_TFIDF_FIXED = {
    "input": "content",
    "strip_accents": None,
    "preprocessor": None,
    "tokenizer": None,
    "stop_words": None,
    "binary": False,
    "use_idf": True,
    "norm": "l2",
}


def describe(estimator: Any, shipped_encoder: bool = False) -> tuple[dict[str, Any], Arrays]:
    """(spec, arrays) of a fitted CommentClassifier; `shipped_encoder`: its fine-tuned encoder is copied into
    the model folder as ENCODER_DIR, and the spec names it so."""
    arrays: Arrays = {}
    blocks = [_block(block, arrays) for block in estimator.blocks_]
    columns = sum(b["columns"] for b in blocks)
    coef = np.asarray(estimator.linear_.coef_, dtype=np.float64)
    classes = [str(c) for c in estimator.classes_]
    if coef.shape != (len(classes), columns):
        raise ArtifactError(
            f"the linear layer has coefficients of shape {coef.shape}, expected ({len(classes)}, {columns}) for "
            f"{len(classes)} classes and the blocks' {columns} columns; only a multinomial model can be exported"
        )
    arrays["linear.coef"] = coef
    arrays["linear.intercept"] = np.asarray(estimator.linear_.intercept_, dtype=np.float64)
    spec = {
        "classes": classes,
        "blocks": blocks,
        "linear": {
            "coef": "linear.coef",
            "intercept": "linear.intercept",
            "temperature": float(estimator.temperature_),
            "C": getattr(estimator, "C_", None),
        },
        "calibration": {k: float(v) for k, v in getattr(estimator, "calibration_", {}).items()},
        "encoder": _encoder(estimator, shipped_encoder) if any(b["name"] in _EMBEDS for b in blocks) else None,
    }
    return spec, arrays


_EMBEDS = frozenset({"embedding", "relevance", "public"})
# The feature blocks a portable model computes (model/portable/blocks.py).
PORTABLE_BLOCKS = frozenset({"word", "char", "signals", "lexicon", "embedding", "relevance", "public"})


def _block(block: Any, arrays: Arrays) -> dict[str, Any]:
    name = block.name
    if name in ("word", "char"):
        return _tfidf(name, block.vectorizer, arrays)
    if name == "signals":
        spec = _scaled(name, SIGNAL_NAMES, block.scaler, arrays)
        return {**spec, "digit_ratio_of": block.digit_ratio_of}
    if name == "lexicon":
        return _scaled(name, LEXICON_NAMES, block.scaler, arrays)
    if name == "embedding":
        return {"name": name, "scale": float(block.scale), "columns": int(block.dim_)}
    if name == "relevance":
        return _relevance(block, arrays)
    if name == "public":
        return _public(block.detectors, arrays)
    raise ArtifactError(
        f"feature block {name!r} cannot be exported to a portable model; expected one of {sorted(PORTABLE_BLOCKS)}"
    )


def _tfidf(name: str, vectorizer: Any, arrays: Arrays) -> dict[str, Any]:
    params = vectorizer.get_params()
    wrong = {k: params.get(k) for k, v in _TFIDF_FIXED.items() if params.get(k) != v}
    if params["analyzer"] not in ANALYZERS:
        wrong["analyzer"] = params["analyzer"]
    if wrong:
        raise ArtifactError(
            f"block {name!r}: TfidfVectorizer settings {wrong} are not reproduced by a portable model, which "
            f"computes {_TFIDF_FIXED} with analyzer in {ANALYZERS}; retrain with model/features.py's settings"
        )
    vocabulary: Mapping[str, int] = vectorizer.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if [vocabulary[t] for t in terms] != list(range(len(terms))):
        raise ArtifactError(f"block {name!r}: the vocabulary's columns are not 0..{len(terms) - 1}")
    arrays[f"{name}.terms"] = _strings(terms, f"block {name!r}")
    arrays[f"{name}.idf"] = np.asarray(vectorizer.idf_)
    return {
        "name": name,
        "analyzer": params["analyzer"],
        "ngram_range": list(params["ngram_range"]),
        "lowercase": bool(params["lowercase"]),
        "token_pattern": params["token_pattern"] if params["analyzer"] == "word" else None,
        "sublinear_tf": bool(params["sublinear_tf"]),
        "dtype": np.dtype(params["dtype"]).name,
        "columns": len(terms),
    }


def _scaled(name: str, names: tuple[str, ...], scaler: Any, arrays: Arrays) -> dict[str, Any]:
    arrays[f"{name}.mean"] = np.asarray(scaler.mean_, dtype=np.float64)
    arrays[f"{name}.scale"] = np.asarray(scaler.scale_, dtype=np.float64)
    if arrays[f"{name}.mean"].shape != (len(names),):
        raise ArtifactError(f"block {name!r} was fitted on {arrays[f'{name}.mean'].shape} columns, not {len(names)}")
    return {
        "name": name,
        "names": list(names),
        "columns": len(names),
        "scaler": {"with_mean": bool(scaler.with_mean), "with_std": bool(scaler.with_std)},
    }


def _relevance(block: Any, arrays: Arrays) -> dict[str, Any]:
    spec = _scaled("relevance", RELEVANCE_NAMES, block.scaler_, arrays)
    words = list(block.idf_)
    arrays["relevance.idf_words"] = _strings(words, "block 'relevance'")
    arrays["relevance.idf"] = np.array([block.idf_[w] for w in words], dtype=np.float64)
    arrays["relevance.neutral"] = np.asarray(block.neutral_, dtype=np.float64)
    # The stop list the block was fitted with travels with the model: scoring must not depend on the
    # installed scikit-learn's list (or need scikit-learn at all).
    arrays["relevance.ignored"] = _strings(sorted(ignored_words()), "block 'relevance'")
    return {**spec, "n_docs": int(block.n_docs_)}


def _public(detectors: Any, arrays: Arrays) -> dict[str, Any]:
    """The public recipe's detectors: per kind, a char n-gram vocabulary and a binary logistic regression over
    [its tf-idf | embedding_scale x the sentence embedding]."""
    kinds = [str(k) for k in detectors.kinds_]
    specs = {}
    for kind in kinds:
        prefix = f"public.{kind}"
        spec = _tfidf(prefix, detectors.vectorizers_[kind], arrays)
        coef = np.asarray(detectors.models_[kind].coef_, dtype=np.float64)
        if coef.shape[0] != 1:
            raise ArtifactError(f"block 'public': detector {kind!r} is not binary (coefficients {coef.shape})")
        arrays[f"{prefix}.coef"] = coef
        arrays[f"{prefix}.intercept"] = np.asarray(detectors.models_[kind].intercept_, dtype=np.float64)
        specs[kind] = spec
    return {
        "name": "public",
        "kinds": kinds,
        "detectors": specs,
        "embedding_scale": float(detectors.embedding_scale),
        "columns": len(kinds),
    }


def _encoder(estimator: Any, shipped: bool) -> dict[str, Any]:
    """The encoder the embedding blocks read: its config, with the sha256 of its weights pinned."""
    config = estimator.embedder_.config
    # The resolved hash, not "" (which means whatever hash this code pins): the model names its weights.
    config = replace(config, sha256=config.expected_sha256())
    if shipped:
        config = replace(config, path=ENCODER_DIR)
    name = "bundled all-MiniLM-L6-v2" if not config.path else config.path
    return {
        "name": name,
        "sha256": config.sha256,
        "folder": ENCODER_DIR if shipped else None,
        "config": config.as_dict(),
    }


def _strings(values: list[str], where: str) -> np.ndarray:
    """A unicode array of `values`, checked to read back the same (numpy drops trailing NUL characters)."""
    array = np.array(values, dtype=np.str_) if values else np.array([], dtype="<U1")
    if array.tolist() != values:
        bad = next(v for v, a in zip(values, array.tolist(), strict=True) if v != a)
        raise ArtifactError(f"{where}: the term {bad!r} does not survive a unicode array; it cannot be exported")
    return array
