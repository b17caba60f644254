"""Held-out metrics shared by training and evaluation: per label precision, recall, F1, ROC-AUC."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from model.labels import LABELS


def classification_metrics(y_true: list[str], proba: np.ndarray, labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """Metrics for labels `y_true` given probabilities with columns in `labels` order (the model's)."""
    y = np.array(y_true)
    pred = np.array(labels)[proba.argmax(axis=1)]
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=list(labels), zero_division=0)
    per_label = {}
    for k, label in enumerate(labels):
        positives = y == label
        auc = float(roc_auc_score(positives, proba[:, k])) if 0 < positives.sum() < len(y) else None
        per_label[label] = {
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "roc_auc": auc,
            "support": int(support[k]),
        }
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_label": per_label,
        "confusion_matrix": {
            "labels": list(labels),
            "rows_are": "true label",
            "matrix": confusion_matrix(y, pred, labels=list(labels)).tolist(),
        },
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    lines = [f"n={metrics['n']}  accuracy={metrics['accuracy']:.3f}  macro-F1={metrics['macro_f1']:.3f}"]
    lines.append(f"{'label':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'ROC-AUC':>8} {'support':>8}")
    for label, m in metrics["per_label"].items():
        auc = f"{m['roc_auc']:.3f}" if m["roc_auc"] is not None else "-"
        lines.append(
            f"{label:<12} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {auc:>8} {m['support']:>8}"
        )
    return "\n".join(lines)
