"""Unintended-bias metrics for the toxic label on comments that mention identity groups.

Definitions from Borkan et al. 2019, "Nuanced Metrics for Measuring Unintended Bias with Real Data for Text
Classification", as scored in the Jigsaw Unintended Bias in Toxicity Classification challenge (2019):
- subgroup AUC: ROC-AUC on the comments that mention the subgroup only;
- BPSN AUC (background positive, subgroup negative): toxic comments NOT mentioning the subgroup against
  non-toxic comments mentioning it. Low: innocent mentions score higher than real abuse elsewhere;
- BNSP AUC (background negative, subgroup positive): non-toxic comments not mentioning it against toxic
  comments mentioning it. Low: abuse aimed at the group scores lower than harmless comments elsewhere;
- final metric = 0.25 * overall AUC + sum over the three bias metrics of 0.25 * M_p(metric over subgroups),
  with the generalised (power) mean M_p(m) = (mean of m_s ** p) ** (1 / p), p = -5, which pulls the mean
  towards the worst subgroup.
A subgroup whose AUC is undefined (one class missing from its comparison) is left out of that mean.
"""

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from model.labels import LABELS, TOXIC
from training.identity_terms import CATEGORIES, SUBGROUPS, category_of, mentions

POWER = -5.0
OVERALL_WEIGHT = 0.25
BIAS_WEIGHTS = {"subgroup_auc": 0.25, "bpsn_auc": 0.25, "bnsp_auc": 0.25}


def _auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, scores))


def bias_aucs(toxic: np.ndarray, scores: np.ndarray, in_group: np.ndarray) -> dict[str, float | None]:
    background = ~in_group
    bpsn = (background & toxic) | (in_group & ~toxic)
    bnsp = (background & ~toxic) | (in_group & toxic)
    return {
        "subgroup_auc": _auc(toxic[in_group], scores[in_group]),
        "bpsn_auc": _auc(toxic[bpsn], scores[bpsn]),
        "bnsp_auc": _auc(toxic[bnsp], scores[bnsp]),
    }


def power_mean(values: list[float], p: float = POWER) -> float | None:
    if not values:
        return None
    if min(values) <= 0.0:
        return 0.0  # the limit for p < 0: one AUC of 0 drives the mean to 0 (and 0 ** -5 would divide by zero)
    return float(np.mean(np.power(np.asarray(values, dtype=float), p)) ** (1.0 / p))


def final_metric(overall_auc: float | None, subgroups: list[dict[str, Any]]) -> dict[str, Any]:
    means = {name: power_mean([s[name] for s in subgroups if s[name] is not None]) for name in BIAS_WEIGHTS}
    if overall_auc is None or any(v is None for v in means.values()):
        score = None
    else:
        score = OVERALL_WEIGHT * overall_auc + sum(w * means[name] for name, w in BIAS_WEIGHTS.items())
    return {"generalised_means": means, "final_metric": score}


def fairness_section(texts: list[str], y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    k = LABELS.index(TOXIC)
    toxic, scores = y == k, proba[:, k]
    found = [set(mentions(t)) for t in texts]
    subgroups = []
    for name in SUBGROUPS:
        in_group = np.array([name in f for f in found], dtype=bool)
        if not in_group.any():
            continue
        subgroups.append(
            {
                "subgroup": name,
                "category": category_of(name),
                "n": int(in_group.sum()),
                "toxic": int((in_group & toxic).sum()),
                **bias_aucs(toxic, scores, in_group),
            }
        )
    overall = _auc(toxic, scores)
    return {
        "label": TOXIC,
        "term_list": "training/identity_terms.py",
        "categories": list(CATEGORIES),
        "power": POWER,
        "overall_weight": OVERALL_WEIGHT,
        "bias_weights": BIAS_WEIGHTS,
        "overall_auc": overall,
        "comments_mentioning_any": int(sum(bool(f) for f in found)),
        "subgroups": subgroups,
        **final_metric(overall, subgroups),
    }
