"""Assemble every section of the report from rows, their true labels and the model's probabilities."""

from datetime import UTC, datetime
from typing import Any

import numpy as np

from model.labels import LABELS
from model.policy import Policy
from training.data import Row

from .calibration import calibration_section
from .compare import compare_section
from .curves import curves_section
from .errors import errors_section
from .fairness import fairness_section
from .policy_view import policy_section
from .slices import slices_section
from .stats import N_BOOT, bootstrap_metrics, label_index, point_metrics

REPORT_FORMAT = 1


def build_report(
    rows: list[Row],
    proba: np.ndarray,
    policy: Policy,
    policy_origin: str,
    model_info: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
    baseline_proba: np.ndarray | None = None,
    baseline_info: dict[str, Any] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """The whole report as plain JSON-able data; charts and writers read only this."""
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(rows), len(LABELS)):
        raise ValueError(
            f"probabilities have shape {proba.shape}; expected ({len(rows)}, {len(LABELS)}) in LABELS order"
        )
    y = label_index([r.label for r in rows])
    metrics = point_metrics(y, proba)
    intervals = bootstrap_metrics(y, proba, n_boot=n_boot, seed=seed)
    report: dict[str, Any] = {
        "format_version": REPORT_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_info or {},
        "data": {**(data_info or {}), "n": len(rows), "label_counts": metrics_counts(y)},
        "labels": list(LABELS),
        "headline": {
            "macro_f1": metrics["macro_f1"],
            "macro_f1_ci": intervals["macro_f1"],
            "accuracy": metrics["accuracy"],
            "accuracy_ci": intervals["accuracy"],
            "per_label": {
                label: {
                    **metrics["per_label"][label],
                    **{f"{name}_ci": ci for name, ci in intervals["per_label"][label].items()},
                }
                for label in LABELS
            },
            "intervals": {"method": intervals["method"], "level": intervals["level"]},
        },
        "confusion_matrix": metrics["confusion_matrix"],
        "curves": curves_section(y, proba),
        "calibration": calibration_section(y, proba),
        "policy": policy_section(y, proba, policy, policy_origin),
        "slices": slices_section(rows, y, proba),
        "fairness": fairness_section([r.text for r in rows], y, proba),
        "errors": errors_section(rows, y, proba),
    }
    if baseline_proba is not None:
        base = np.asarray(baseline_proba, dtype=float)
        report["comparison"] = compare_section(
            rows, y, proba, base, metrics, point_metrics(y, base), baseline_info or {}, n_boot, seed
        )
    return report


def metrics_counts(y: np.ndarray) -> dict[str, int]:
    return {label: int((y == k).sum()) for k, label in enumerate(LABELS)}
