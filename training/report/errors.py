"""The mistakes a moderator should read first: the ones the model was most sure about."""

from typing import Any

import numpy as np

from model.labels import LABELS
from training.data import Row

PER_LABEL = 10
OVERALL = 20


def _item(row: Row, y: int, proba: np.ndarray, confidence: float) -> dict[str, Any]:
    return {
        "id": row.id,
        "text": row.text,
        "article_title": row.article_title,
        "true": LABELS[y],
        "predicted": LABELS[int(proba.argmax())],
        "confidence": float(confidence),
        "scores": {label: float(p) for label, p in zip(LABELS, proba, strict=True)},
    }


def errors_section(rows: list[Row], y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Per label: false positives by that label's score, false negatives by the wrong label's score."""
    pred = proba.argmax(axis=1)
    top = proba.max(axis=1)
    per_label = {}
    for k, label in enumerate(LABELS):
        fp = np.flatnonzero((pred == k) & (y != k))
        fn = np.flatnonzero((pred != k) & (y == k))
        fp = fp[np.argsort(-proba[fp, k], kind="stable")][:PER_LABEL]
        fn = fn[np.argsort(-top[fn], kind="stable")][:PER_LABEL]
        per_label[label] = {
            "false_positives": [_item(rows[i], y[i], proba[i], proba[i, k]) for i in fp],
            "false_negatives": [_item(rows[i], y[i], proba[i], top[i]) for i in fn],
        }
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-top[wrong], kind="stable")][:OVERALL]
    return {
        "count": int((pred != y).sum()),
        "most_confident": [_item(rows[i], y[i], proba[i], top[i]) for i in wrong],
        "per_label": per_label,
    }
