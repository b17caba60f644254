"""Compressed sparse rows in plain numpy: the few operations a portable model needs, without scipy.sparse.

The arithmetic follows model/fastpath.py (which matches scikit-learn and scipy), so a portable model's
features and scores are the pickled model's.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rows:
    """A matrix of `n_cols` columns as CSR arrays: row i holds data[indptr[i]:indptr[i+1]] at those indices."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_cols: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.n_cols

    def row_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, values) of row i."""
        start, end = self.indptr[i], self.indptr[i + 1]
        return self.indices[start:end], self.data[start:end]

    def normalize_rows_l2(self) -> None:
        """Rows to unit length in place, as model.fastpath._normalize_rows_l2: squares in the data's dtype,
        summed in float64 in row order, the division in float64; an empty row stays empty."""
        rows = self.row_ids()
        squares = np.zeros(self.shape[0], dtype=np.float64)
        np.add.at(squares, rows, (self.data * self.data).astype(np.float64))
        norms = np.sqrt(squares)
        norms[norms == 0.0] = 1.0
        self.data[:] = self.data / norms[rows]

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "Rows":
        """The non-zero entries of a 2-D array, as scipy's csr_matrix(dense) keeps them."""
        if dense.ndim != 2:
            raise ValueError(f"a feature block must return a 2-D matrix, found shape {dense.shape}")
        rows, cols = np.nonzero(dense)
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls(dense[rows, cols], cols.astype(np.int64), indptr, dense.shape[1])

    @classmethod
    def hstack(cls, parts: list["Rows"]) -> "Rows":
        """The parts side by side, in float64; each row keeps the parts' order (its indices stay sorted)."""
        n_rows = parts[0].shape[0]
        counts = np.stack([np.diff(p.indptr) for p in parts], axis=1)  # rows x parts
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=1), out=indptr[1:])
        data = np.empty(indptr[-1], dtype=np.float64)
        indices = np.empty(indptr[-1], dtype=np.int64)
        before = np.zeros(n_rows, dtype=np.int64)  # entries of earlier parts in each row
        offset = 0
        for k, part in enumerate(parts):
            per_row = counts[:, k]
            dest = np.repeat(indptr[:-1] + before - part.indptr[:-1], per_row) + np.arange(len(part.data))
            data[dest] = part.data
            indices[dest] = part.indices + offset
            before += per_row
            offset += part.n_cols
        return cls(data, indices, indptr, offset)

    def dot_transposed(self, weights: np.ndarray) -> np.ndarray:
        """self @ weights.T for dense `weights` of shape (k, n_cols): shape (n_rows, k), in float64.

        Each row's products are summed in index order, as scipy's CSR product does."""
        rows = self.row_ids()
        out = np.empty((self.shape[0], weights.shape[0]), dtype=np.float64)
        for k in range(weights.shape[0]):
            out[:, k] = np.bincount(rows, weights=self.data * weights[k, self.indices], minlength=self.shape[0])
        return out
