"""What the policy file would do with these comments, and how other thresholds would trade off.

"Precision" of an action is the share of its comments a moderator would agree with: for reject and hold,
comments whose true label is not substantive (spam or toxic); for approve, comments that are substantive.
"""

from typing import Any

import numpy as np

from model.labels import LABELS, SUBSTANTIVE
from model.policy import ACTIONS, APPROVE, Policy

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.951, 0.05))


def policy_section(y: np.ndarray, proba: np.ndarray, policy: Policy, origin: str) -> dict[str, Any]:
    sub = LABELS.index(SUBSTANTIVE)
    decided = np.array([policy.decide(dict(zip(LABELS, map(float, row), strict=True))).decided for row in proba])
    actions = {}
    for action in ACTIONS:
        chosen = decided == action
        count = int(chosen.sum())
        agree = (y[chosen] == sub) if action == APPROVE else (y[chosen] != sub)
        actions[action] = {
            "count": count,
            "share": count / len(y) if len(y) else 0.0,
            "precision": float(agree.mean()) if count else None,
            "by_true_label": {label: int((y[chosen] == k).sum()) for k, label in enumerate(LABELS)},
        }
    return {
        "policy": origin,
        "version": policy.version,
        "shadow": policy.shadow,
        "thresholds": {label: {"hold": t.hold, "reject": t.reject} for label, t in policy.thresholds.items()},
        "precision_means": "reject/hold: share not substantive; approve: share substantive",
        "actions": actions,
        "threshold_table": threshold_table(y, proba),
    }


def threshold_table(y: np.ndarray, proba: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """For each flaggable label: flagging score >= t, the share flagged and its precision and recall."""
    table = {}
    for k, label in enumerate(LABELS):
        if label == SUBSTANTIVE:
            continue
        positive = y == k
        rows = []
        for t in THRESHOLDS:
            flagged = proba[:, k] >= t
            tp = int((flagged & positive).sum())
            rows.append(
                {
                    "threshold": float(t),
                    "flagged": int(flagged.sum()),
                    "precision": tp / int(flagged.sum()) if flagged.any() else None,
                    "recall": tp / int(positive.sum()) if positive.any() else None,
                }
            )
        table[label] = rows
    return table
