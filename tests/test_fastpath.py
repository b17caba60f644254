"""model/fastpath.py gives bit-identical results to the scikit-learn and scipy calls it replaces."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from model import fastpath, scaling
from model.features import CharNgrams, WordNgrams, normalize_all, transform_blocks
from model.inputs import as_comments

from .conftest import ROOT


def corpus_texts(n: int = 600) -> list[str]:
    with (ROOT / "data" / "comments.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for _, line in zip(range(n), f, strict=False)]


def same_csr(a, b) -> None:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert a.data.dtype == b.data.dtype and np.array_equal(a.data, b.data)


# Texts that stress the edges: only unseen words (an empty row), empty, one character, very long, non-Latin.
EDGE_TEXTS = ["", "x", "zzqx wwvq", "Great post! " * 200, "Привет мир, 你好", "a\u200bb idiot!!!", "ok ok ok ok"]


@pytest.mark.parametrize("block_class", [WordNgrams, CharNgrams])
def test_tfidf_matches_the_vectorizer(block_class):
    texts = normalize_all(as_comments(corpus_texts()))
    block = block_class().fit([], texts[:400])
    vectorizer = block.vectorizer
    for docs in (texts[400:401], texts[400:403], texts[400:], EDGE_TEXTS):
        same_csr(fastpath.tfidf_transform(vectorizer, docs), vectorizer.transform(docs))
    # The block's transform is the fast path.
    same_csr(block.transform([], texts[400:]), vectorizer.transform(texts[400:]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standardize_and_back_match_the_scaler(dtype):
    rng = np.random.default_rng(0)
    fit_on = (rng.normal(3, 2, size=(200, 7)) * [1, 0, 5, 1, 1, 1e-9, 100]).astype(dtype)  # a constant column too
    scaler = StandardScaler().fit(fit_on)
    X = rng.normal(3, 2, size=(5, 7)).astype(dtype)
    out = scaling.standardize(scaler, X)
    expected = scaler.transform(X)
    assert out.dtype == expected.dtype and np.array_equal(out, expected)
    assert np.array_equal(X, X.copy()) and out is not X  # the input is not modified
    back = scaling.unstandardize(scaler, out)
    assert np.array_equal(back, scaler.inverse_transform(out))


def test_hstack_matches_scipy_for_mixed_blocks():
    rng = np.random.default_rng(1)
    sparse = sp.random(6, 40, density=0.1, format="lil", random_state=2, dtype=np.float32)
    sparse[3] = 0  # an empty row
    sparse = sparse.tocsr()
    assert sparse[3].nnz == 0 and sparse.nnz > 10
    dense = rng.normal(size=(6, 5))
    dense[2, :] = 0.0  # zeros are dropped, as csr_matrix(dense) drops them
    dense[4, 1] = 0.0
    for parts in (
        [sparse, dense, sparse],
        [dense],
        [sparse, dense, dense[:, :2].astype(np.float32), dense, sparse],
        [dense, sparse],
        [sparse[:1], dense[:1]],
        [sparse[:0], dense[:0]],
    ):
        expected = sp.hstack([sp.csr_matrix(p) for p in parts], format="csr", dtype=np.float64)
        same_csr(fastpath.hstack_csr(parts, dtype=np.float64), expected)


def test_linear_scores_match_logistic_regression():
    rng = np.random.default_rng(3)
    X = sp.random(60, 30, density=0.3, format="csr", random_state=4)
    for n_classes in (3, 2):
        y = rng.integers(0, n_classes, size=60)
        lr = LogisticRegression().fit(X, y)
        out = fastpath.linear_scores(lr.coef_, lr.intercept_, X[:7])
        assert np.array_equal(out, lr.decision_function(X[:7]))


def test_a_fitted_models_features_and_scores_are_unchanged(tiny_pickled_dir):
    """Through the whole fitted (scikit-learn) model: the stacked features and the scores are what the library
    calls give."""
    from model.artifact import load_model

    clf = load_model(tiny_pickled_dir).estimator
    comments = as_comments(corpus_texts(40) + EDGE_TEXTS)
    normalized = normalize_all(comments)
    features = transform_blocks(clf.blocks_, comments, normalized)
    expected = sp.hstack([sp.csr_matrix(p) for p in features.blocks.values()], format="csr", dtype=np.float64)
    same_csr(features.matrix, expected)
    assert np.array_equal(clf.decision_function(comments, featurized=features), clf.linear_.decision_function(expected))
