"""Metrics on slices of the data: by source, by article, by comment length, with and without an article."""

from collections.abc import Callable
from typing import Any

import numpy as np

from model.labels import LABELS
from training.data import Row

from .stats import point_metrics

LENGTH_BANDS = (
    (0, 50, "under 50 chars"),
    (50, 200, "50-199 chars"),
    (200, 500, "200-499 chars"),
    (500, None, "500+ chars"),
)
MAX_ARTICLES = 30  # the article table lists the largest articles; report.json keeps this same list


def length_band(text: str) -> str:
    for lo, hi, name in LENGTH_BANDS:
        if len(text) >= lo and (hi is None or len(text) < hi):
            return name
    raise AssertionError("bands cover every length")


def _slice(rows: list[Row], y: np.ndarray, proba: np.ndarray, key: Callable[[Row], str]) -> list[dict[str, Any]]:
    keys = np.array([key(r) for r in rows])
    out = []
    for value in dict.fromkeys(keys.tolist()):
        idx = np.flatnonzero(keys == value)
        m = point_metrics(y[idx], proba[idx])
        out.append(
            {
                "slice": value,
                "n": m["n"],
                "accuracy": m["accuracy"],
                "macro_f1": _present_macro_f1(m, y[idx], proba[idx].argmax(axis=1)),
                "f1": {label: v["f1"] for label, v in m["per_label"].items()},
                "support": {label: v["support"] for label, v in m["per_label"].items()},
            }
        )
    # largest first; among equal sizes the worst first, which is where a reader should look
    return sorted(out, key=lambda s: (-s["n"], s["macro_f1"], s["slice"]))


def _present_macro_f1(metrics: dict[str, Any], y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the labels that occur in the slice (true or predicted): a slice without spam should not
    score an automatic 0 for spam, but spam predicted there still counts against it."""
    present = [label for k, label in enumerate(LABELS) if (y == k).any() or (pred == k).any()]
    return float(np.mean([metrics["per_label"][label]["f1"] for label in present]))


def slices_section(rows: list[Row], y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    articles = _slice(rows, y, proba, lambda r: r.article_id or "(no article id)")
    order = [name for _, _, name in LENGTH_BANDS]
    lengths = sorted(_slice(rows, y, proba, lambda r: length_band(r.text)), key=lambda s: order.index(s["slice"]))
    titles = {r.article_id: r.article_title for r in rows if r.article_id}
    for s in articles:
        s["title"] = titles.get(s["slice"], "")
    return {
        "source": _slice(rows, y, proba, lambda r: r.source or "(no source)"),
        "article": articles[:MAX_ARTICLES],
        "article_count": len(articles),
        "length": lengths,
        "article_context": _slice(
            rows, y, proba, lambda r: "with article" if (r.article_title or r.article_body) else "without article"
        ),
    }
