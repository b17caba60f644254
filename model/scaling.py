"""A fitted StandardScaler's transform and its inverse, with numpy alone.

The same numbers as `scaler.transform(X)` and `scaler.inverse_transform(X)` (tests/test_fastpath.py checks
them bit for bit), without scikit-learn's per-call overhead (see model/fastpath.py) and without importing
scikit-learn: the service reads scaled values back (serve/explain.py) and a portable model scales its
features (model/portable/blocks.py), neither of which needs the library. Any object with the fitted
attributes scikit-learn documents (`mean_`, `scale_`, `with_mean`, `with_std`) will do.
"""

from typing import Protocol

import numpy as np


class Scaler(Protocol):
    # Read-only members: a frozen dataclass (model/portable/blocks.py) satisfies them as a fitted scaler does.
    @property
    def mean_(self) -> np.ndarray: ...
    @property
    def scale_(self) -> np.ndarray: ...
    @property
    def with_mean(self) -> bool: ...
    @property
    def with_std(self) -> bool: ...


def standardize(scaler: Scaler, X: np.ndarray) -> np.ndarray:
    """scaler.transform(X) for dense X: a copy, centred and scaled in place in X's float dtype."""
    out = np.array(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    if scaler.with_mean:
        out -= scaler.mean_.astype(out.dtype)
    if scaler.with_std:
        out /= scaler.scale_.astype(out.dtype)
    return out


def unstandardize(scaler: Scaler, X: np.ndarray) -> np.ndarray:
    """scaler.inverse_transform(X) for dense X: a copy, scaled back and un-centred in place."""
    out = np.array(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    if scaler.with_std:
        out *= scaler.scale_.astype(out.dtype)
    if scaler.with_mean:
        out += scaler.mean_.astype(out.dtype)
    return out
