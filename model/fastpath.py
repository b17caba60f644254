"""The same numbers as a few scikit-learn and scipy calls, without their per-call overhead.

Why: the service scores a handful of comments per call, and at that size the fixed cost of each call (input
validation, dataframe-library checks, output wrapping, building a COO matrix to build a CSR one) was about
a fifth of a single comment's CPU time in the serving profile (py-spy, concurrency 8). The work itself is
small and written here once; tests/test_fastpath.py checks each function against the call it replaces, on
real features, for bit-identical results. A scaler's transform and its inverse are in model/scaling.py,
which needs no scikit-learn.

Only fitted attributes that scikit-learn documents are read (`idf_`, `coef_`, `intercept_`, the
vectorizer's own `transform`), so a library upgrade that changes them fails those tests
instead of changing scores silently.
"""

from typing import cast

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer


def tfidf_transform(vectorizer: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    """vectorizer.transform(docs): counts, then sublinear tf, idf and row norm as the fitted vectorizer says."""
    if vectorizer.norm not in (None, "l2"):
        return vectorizer.transform(docs)  # not used by our blocks; keep sklearn's exact behaviour
    counts = CountVectorizer.transform(vectorizer, docs)  # the counting itself, as TfidfVectorizer does it
    X = counts.astype(vectorizer.dtype, copy=False)
    if vectorizer.sublinear_tf:
        np.log(X.data, X.data)
        X.data += 1.0
    if vectorizer.use_idf:
        X.data *= vectorizer.idf_[X.indices]
    if vectorizer.norm == "l2":
        _normalize_rows_l2(X)
    return X


def _normalize_rows_l2(X: sp.csr_matrix) -> None:
    """Rows to unit length in place, with sklearn's arithmetic: squares in X's dtype, summed in float64 in
    row order, the division in float64."""
    lengths = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), lengths)
    squares = np.zeros(X.shape[0], dtype=np.float64)
    np.add.at(squares, rows, (X.data * X.data).astype(np.float64))
    norms = np.sqrt(squares)
    norms[norms == 0.0] = 1.0  # an empty row stays empty
    X.data[:] = X.data / norms[rows]


def hstack_csr(parts: list[sp.spmatrix | np.ndarray], dtype: type = np.float64) -> sp.csr_matrix:
    """sp.hstack([sp.csr_matrix(p) for p in parts], format="csr", dtype=dtype), built directly.

    Dense parts contribute their non-zero entries, as csr_matrix(dense) does; each row keeps the parts'
    order, so column indices stay sorted when every part's are.
    """
    pieces = [_csr_arrays(p) for p in _merge_dense_runs(parts)]
    n_rows = pieces[0][3][0]
    counts = np.stack([np.diff(indptr) for _, _, indptr, _ in pieces], axis=1)  # rows x parts
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=1), out=indptr[1:])
    data = np.empty(indptr[-1], dtype=dtype)
    indices = np.empty(indptr[-1], dtype=np.int32 if sum(s[1] for _, _, _, s in pieces) < 2**31 else np.int64)
    before = np.zeros(n_rows, dtype=np.int64)  # entries of earlier parts in each row
    offset = 0
    for k, (part_data, part_indices, part_indptr, shape) in enumerate(pieces):
        per_row = counts[:, k]
        start = np.repeat(indptr[:-1] + before - part_indptr[:-1], per_row)
        dest = start + np.arange(len(part_data))
        data[dest] = part_data
        indices[dest] = part_indices + offset
        before += per_row
        offset += shape[1]
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, offset))


def _merge_dense_runs(parts: list[sp.spmatrix | np.ndarray]) -> list[sp.spmatrix | np.ndarray]:
    """Neighbouring dense parts as one (one np.hstack instead of a CSR conversion each); order kept."""
    merged: list[sp.spmatrix | np.ndarray] = []
    run: list[np.ndarray] = []
    for part in parts:
        if sp.issparse(part):
            if run:
                merged.append(np.hstack(run) if len(run) > 1 else run[0])
                run = []
            merged.append(part)
        else:
            run.append(np.asarray(part, dtype=np.float64))
    if run:
        merged.append(np.hstack(run) if len(run) > 1 else run[0])
    return merged


def _csr_arrays(part: sp.spmatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    if sp.issparse(part):
        m = cast(sp.spmatrix, part).tocsr()
        if not m.has_sorted_indices:
            m = m.sorted_indices()
        return m.data, m.indices, m.indptr, m.shape
    dense = np.asarray(part)
    if dense.ndim != 2:
        raise ValueError(f"a feature block must return a 2-D matrix, found shape {dense.shape}")
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
    return dense[rows, cols], cols, indptr, dense.shape


def linear_scores(coef: np.ndarray, intercept: np.ndarray, X: sp.csr_matrix) -> np.ndarray:
    """LogisticRegression.decision_function(X): X @ coef.T + intercept, one column per class (a 1-D array
    for a two-class model, as sklearn returns)."""
    scores = np.asarray(X @ coef.T) + intercept
    return scores.ravel() if scores.shape[1] == 1 else scores
