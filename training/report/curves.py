"""PR and ROC curve points per label, thinned so report.json stays small and the charts draw from it."""

from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from model.labels import LABELS

MAX_POINTS = 200


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int)) if n else np.array([], int)
    return [[round(float(a[i]), 6) for a in arrays] for i in keep]


def curves_section(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, label in enumerate(LABELS):
        positive = y == k
        if not 0 < positive.sum() < len(y):
            out[label] = None
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, k])
        precision, recall, _ = precision_recall_curve(positive, proba[:, k])
        out[label] = {
            "roc": _thin(fpr, tpr),
            "pr": _thin(recall, precision),
            "base_rate": float(positive.mean()),
        }
    return {"points_are": "roc: [fpr, tpr]; pr: [recall, precision]", "per_label": out}
