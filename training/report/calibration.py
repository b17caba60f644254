"""Calibration per label: reliability bins and expected calibration error (one-vs-rest).

model.calibration.expected_calibration_error is the top-label ECE (confidence of the predicted label);
a moderator reading "toxic 0.8" needs each label's own score to be honest, so this module bins each
label's score against how often that label is true.
"""

from typing import Any

import numpy as np

from model.calibration import expected_calibration_error
from model.labels import LABELS

BINS = 10


def reliability(scores: np.ndarray, positive: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Equal-width bins over [0, 1] (first bin closed on the left): count, mean score, observed frequency, ECE."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, scores, side="left") - 1, 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        count = int(in_bin.sum())
        if count:
            mean_score = float(scores[in_bin].mean())
            observed = float(positive[in_bin].mean())
            ece += count / len(scores) * abs(mean_score - observed)
        else:
            mean_score = observed = None
        rows.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": count,
                "mean_score": mean_score,
                "observed": observed,
            }
        )
    return {"bins": rows, "ece": float(ece)}


def calibration_section(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    per_label = {label: reliability(proba[:, k], y == k) for k, label in enumerate(LABELS)}
    return {
        "bins": BINS,
        "per_label": per_label,
        "top_label_ece": expected_calibration_error(proba, y, bins=BINS),
    }
