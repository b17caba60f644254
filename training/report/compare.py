"""The candidate against the model running now, on the same comments: deltas, a paired test, changed labels."""

from typing import Any

import numpy as np

from model.labels import LABELS
from training.data import Row

from .stats import mcnemar_exact, paired_bootstrap_delta

MAX_CHANGED = 100
METRICS = ("precision", "recall", "f1", "roc_auc", "pr_auc")


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def compare_section(
    rows: list[Row],
    y: np.ndarray,
    proba: np.ndarray,
    base_proba: np.ndarray,
    model_metrics: dict[str, Any],
    base_metrics: dict[str, Any],
    baseline_info: dict[str, Any],
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    headline = [
        {"metric": name, "model": model_metrics[name], "baseline": base_metrics[name]}
        for name in ("macro_f1", "accuracy")
    ]
    for label in LABELS:
        for name in METRICS:
            a, b = model_metrics["per_label"][label][name], base_metrics["per_label"][label][name]
            headline.append({"metric": f"{label} {name}", "model": a, "baseline": b})
    for h in headline:
        h["delta"] = _delta(h["model"], h["baseline"])
    pred, base_pred = proba.argmax(axis=1), base_proba.argmax(axis=1)
    changed = np.flatnonzero(pred != base_pred)
    # regressions first (what a rollout would break), then fixes, then comments wrong either way
    outcome = np.where(pred == y, "fixed", np.where(base_pred == y, "broken", "still wrong"))
    rank = {"broken": 0, "fixed": 1, "still wrong": 2}
    changed = np.array(sorted(changed, key=lambda i: (rank[outcome[i]], -proba[i].max())), dtype=int)
    mcnemar = mcnemar_exact(base_pred == y, pred == y)
    bootstrap = paired_bootstrap_delta(y, proba, base_proba, n_boot=n_boot, seed=seed)
    verdict = "no significant difference in accuracy (McNemar p >= 0.05)"
    if mcnemar["p_value"] < 0.05:
        better = mcnemar["only_model_right"] > mcnemar["only_baseline_right"]
        verdict = f"candidate is significantly {'better' if better else 'worse'} (McNemar p < 0.05)"
    return {
        "baseline": baseline_info,
        "shared_comments": int(len(y)),
        "headline": headline,
        "mcnemar": mcnemar,
        "paired_bootstrap": bootstrap,
        "verdict": verdict,
        "changed_count": int(len(changed)),
        "changed_fixed": int(((pred == y) & (base_pred != y)).sum()),
        "changed_broken": int(((pred != y) & (base_pred == y)).sum()),
        "changed": [
            {
                "id": rows[i].id,
                "text": rows[i].text,
                "article_title": rows[i].article_title,
                "change": str(outcome[i]),
                "true": LABELS[y[i]],
                "baseline": LABELS[base_pred[i]],
                "model": LABELS[pred[i]],
                "baseline_scores": dict(zip(LABELS, map(float, base_proba[i]), strict=True)),
                "model_scores": dict(zip(LABELS, map(float, proba[i]), strict=True)),
            }
            for i in changed[:MAX_CHANGED]
        ],
    }
