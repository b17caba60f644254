"""Per-label metrics with seeded bootstrap intervals, and paired tests for comparing two models.

The bootstrap resamples comments with replacement; each resample is a vector of multiplicities, so every
metric is computed as a weighted statistic over one fixed sort of the scores. That keeps 1000 resamples
of ROC-AUC and PR-AUC for every label to a few matrix products instead of thousands of sklearn calls.
"""

from math import comb
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.metrics import average_precision_score

from model.labels import LABELS
from training.metrics import classification_metrics

N_BOOT = 1000
CHUNK = 200  # resamples per matrix product: bounds memory at CHUNK x n floats
ALPHA = 0.05


def label_index(y_true: list[str]) -> np.ndarray:
    lookup = {label: k for k, label in enumerate(LABELS)}
    return np.array([lookup[label] for label in y_true], dtype=int)


def point_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """training.metrics.classification_metrics plus PR-AUC and predicted counts per label."""
    metrics = classification_metrics([LABELS[k] for k in y], proba)
    pred = proba.argmax(axis=1)
    for k, label in enumerate(LABELS):
        positives = y == k
        defined = 0 < positives.sum() < len(y)
        m = metrics["per_label"][label]
        m["pr_auc"] = float(average_precision_score(positives, proba[:, k])) if defined else None
        m["predicted"] = int((pred == k).sum())
    return metrics


def _groups(scores: np.ndarray) -> tuple[sparse.csr_matrix, int]:
    """An n x U indicator of each comment's distinct score, U in descending score order (ties share a column)."""
    _, inverse = np.unique(-scores, return_inverse=True)
    n_unique = int(inverse.max()) + 1 if len(scores) else 0
    matrix = sparse.csr_matrix((np.ones(len(scores)), (np.arange(len(scores)), inverse)), shape=(len(scores), n_unique))
    return matrix, n_unique


def weighted_auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC (ties count half) and average precision (sklearn's step definition) for each row of weights.

    weights: B x n multiplicities. Returns two arrays of length B; NaN where a resample lacks a class.
    """
    groups, _ = _groups(scores)
    pos = np.asarray((groups.T @ (weights * positive).T).T)  # B x U, descending score
    neg = np.asarray((groups.T @ (weights * ~positive).T).T)
    p_total, n_total = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # positives at a score beat the negatives with strictly lower scores, and half of the tied ones
        neg_below = n_total[:, None] - np.cumsum(neg, axis=1)
        auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (p_total * n_total)
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        ap = (pos * precision).sum(axis=1) / p_total
    bad = (p_total == 0) | (n_total == 0)
    auc[bad], ap[bad] = np.nan, np.nan
    return auc, ap


def _counts_f1(weights: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    tp = weights @ ((y == k) & (pred == k)).astype(float)
    fp = weights @ ((y != k) & (pred == k)).astype(float)
    fn = weights @ ((y == k) & (pred != k)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """n_boot x n multiplicities of a with-replacement resample of n comments."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def bootstrap_metrics(y: np.ndarray, proba: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """Per-label and macro 95% percentile intervals: {"macro_f1": [lo, hi], "per_label": {label: {metric: [lo, hi]}}}."""
    pred = proba.argmax(axis=1)
    draws: dict[str, list[np.ndarray]] = {"macro_f1": [], "accuracy": []}
    for start in range(0, n_boot, CHUNK):
        w = resample_weights(len(y), min(CHUNK, n_boot - start), seed + start)
        f1s = []
        for k, label in enumerate(LABELS):
            precision, recall, f1 = _counts_f1(w, y, pred, k)
            auc, ap = weighted_auc(w, y == k, proba[:, k])
            for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
                draws.setdefault(f"{label}.{name}", []).append(values)
            draws.setdefault(f"{label}.roc_auc", []).append(auc)
            draws.setdefault(f"{label}.pr_auc", []).append(ap)
            f1s.append(f1)
        draws["macro_f1"].append(np.mean(f1s, axis=0))
        draws["accuracy"].append((w @ (pred == y).astype(float)) / len(y))
    intervals = {key: _interval(np.concatenate(values)) for key, values in draws.items()}
    per_label = {
        label: {m: intervals[f"{label}.{m}"] for m in ("precision", "recall", "f1", "roc_auc", "pr_auc")}
        for label in LABELS
    }
    return {
        "method": f"percentile bootstrap over comments, {n_boot} resamples, seed {seed}",
        "level": 1 - ALPHA,
        "macro_f1": intervals["macro_f1"],
        "accuracy": intervals["accuracy"],
        "per_label": per_label,
    }


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    lo, hi = np.quantile(values, [ALPHA / 2, 1 - ALPHA / 2])
    return [float(lo), float(hi)]


def mcnemar_exact(correct_base: np.ndarray, correct_model: np.ndarray) -> dict[str, Any]:
    """Exact (binomial) McNemar test on paired correctness of the baseline (a) and the candidate (b)."""
    b = int((correct_base & ~correct_model).sum())
    c = int((~correct_base & correct_model).sum())
    n = b + c
    if n == 0:
        p = 1.0
    else:
        tail = sum(comb(n, i) for i in range(0, min(b, c) + 1)) / 2**n
        p = min(1.0, 2 * tail)
    return {"test": "McNemar exact (two-sided binomial)", "only_baseline_right": b, "only_model_right": c, "p_value": p}


def paired_bootstrap_delta(
    y: np.ndarray, proba_model: np.ndarray, proba_base: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, Any]:
    """Interval for macro-F1(model) - macro-F1(baseline), both computed on the same resamples."""
    pred_m, pred_b = proba_model.argmax(axis=1), proba_base.argmax(axis=1)
    deltas = []
    for start in range(0, n_boot, CHUNK):
        w = resample_weights(len(y), min(CHUNK, n_boot - start), seed + start)
        f1_m = np.mean([_counts_f1(w, y, pred_m, k)[2] for k in range(len(LABELS))], axis=0)
        f1_b = np.mean([_counts_f1(w, y, pred_b, k)[2] for k in range(len(LABELS))], axis=0)
        deltas.append(f1_m - f1_b)
    values = np.concatenate(deltas)
    return {
        "test": f"paired bootstrap of macro-F1 difference, {n_boot} resamples, seed {seed}",
        "interval": _interval(values),
        "share_model_worse": float((values < 0).mean()),
    }
