"""The report's tables as (caption, header, rows) of display strings: one source for HTML and Markdown."""

from typing import Any

from model.labels import LABELS
from model.policy import ACTIONS

from .fmt import ci, num, pct, pvalue, signed

Table = tuple[list[str], list[list[str]]]
TEXT_CHARS = 220  # error tables show this much of a comment; report.json keeps the whole text


def short(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline_table(report: dict[str, Any]) -> Table:
    header = ["label", "precision", "recall", "F1", "ROC-AUC", "PR-AUC", "support"]
    rows = []
    for label in LABELS:
        m = report["headline"]["per_label"][label]
        rows.append(
            [label]
            + [f"{num(m[k])} {ci(m[k + '_ci'])}" for k in ("precision", "recall", "f1", "roc_auc", "pr_auc")]
            + [num(m["support"])]
        )
    return header, rows


def confusion_table(report: dict[str, Any]) -> Table:
    matrix = report["confusion_matrix"]["matrix"]
    return ["true \\ predicted", *LABELS], [[label, *map(num, matrix[i])] for i, label in enumerate(LABELS)]


def calibration_table(report: dict[str, Any]) -> Table:
    cal = report["calibration"]["per_label"]
    return ["label", "ECE"], [[label, num(cal[label]["ece"])] for label in LABELS] + [
        ["top label (predicted class)", num(report["calibration"]["top_label_ece"])]
    ]


def policy_table(report: dict[str, Any]) -> Table:
    actions = report["policy"]["actions"]
    header = ["action", "comments", "share", "precision", *[f"true {label}" for label in LABELS]]
    rows = [
        [a, num(actions[a]["count"]), pct(actions[a]["share"]), num(actions[a]["precision"])]
        + [num(actions[a]["by_true_label"][label]) for label in LABELS]
        for a in ACTIONS
    ]
    return header, rows


def threshold_table(report: dict[str, Any]) -> Table:
    table = report["policy"]["threshold_table"]
    labels = list(table)
    header = ["threshold"] + [f"{label} {m}" for label in labels for m in ("flagged", "precision", "recall")]
    rows = []
    for i, first in enumerate(table[labels[0]]):
        row = [num(first["threshold"], 2)]
        for label in labels:
            r = table[label][i]
            row += [num(r["flagged"]), num(r["precision"]), num(r["recall"])]
        rows.append(row)
    return header, rows


def slice_table(slices: list[dict[str, Any]], with_title: bool = False) -> Table:
    header = ["slice", *(["title"] if with_title else []), "n", "accuracy", "macro-F1", *[f"F1 {x}" for x in LABELS]]
    rows = [
        [
            s["slice"],
            *([short(s.get("title", ""), 80)] if with_title else []),
            num(s["n"]),
            num(s["accuracy"]),
            num(s["macro_f1"]),
        ]
        + [num(s["f1"][label]) if s["support"][label] else "–" for label in LABELS]
        for s in slices
    ]
    return header, rows


def fairness_table(report: dict[str, Any]) -> Table:
    header = ["subgroup", "category", "comments", "toxic", "subgroup AUC", "BPSN AUC", "BNSP AUC"]
    rows = [
        [
            s["subgroup"],
            s["category"],
            num(s["n"]),
            num(s["toxic"]),
            num(s["subgroup_auc"]),
            num(s["bpsn_auc"]),
            num(s["bnsp_auc"]),
        ]
        for s in report["fairness"]["subgroups"]
    ]
    return header, rows


def fairness_summary(report: dict[str, Any]) -> Table:
    f = report["fairness"]
    means = f["generalised_means"]
    return ["measure", "value"], [
        ["overall toxic ROC-AUC", num(f["overall_auc"])],
        ["power mean (p = -5) of subgroup AUC", num(means["subgroup_auc"])],
        ["power mean (p = -5) of BPSN AUC", num(means["bpsn_auc"])],
        ["power mean (p = -5) of BNSP AUC", num(means["bnsp_auc"])],
        ["Jigsaw 2019 final metric", num(f["final_metric"])],
    ]


def error_table(items: list[dict[str, Any]]) -> Table:
    header = ["comment", "article", "true", "predicted", "confidence", *LABELS]
    rows = [
        [short(e["text"]), short(e["article_title"], 80), e["true"], e["predicted"], num(e["confidence"])]
        + [num(e["scores"][label]) for label in LABELS]
        for e in items
    ]
    return header, rows


def comparison_table(report: dict[str, Any]) -> Table:
    return ["metric", "candidate", "baseline", "delta"], [
        [h["metric"], num(h["model"]), num(h["baseline"]), signed(h["delta"])] for h in report["comparison"]["headline"]
    ]


def tests_table(report: dict[str, Any]) -> Table:
    c = report["comparison"]
    m, b = c["mcnemar"], c["paired_bootstrap"]
    return ["test", "result"], [
        ["shared comments", num(c["shared_comments"])],
        ["only the baseline right / only the candidate right", f"{m['only_baseline_right']} / {m['only_model_right']}"],
        [m["test"], f"p = {pvalue(m['p_value'])}"],
        [
            b["test"],
            f"95% interval of the macro-F1 delta {ci(b['interval'])}; worse in {pct(b['share_model_worse'])} of resamples",
        ],
        ["verdict", c["verdict"]],
    ]


def changed_table(report: dict[str, Any]) -> Table:
    header = ["change", "comment", "article", "true", "baseline", "candidate", "baseline score", "candidate score"]
    rows = [
        [x["change"], short(x["text"]), short(x["article_title"], 80), x["true"], x["baseline"], x["model"]]
        + [num(x["baseline_scores"][x["baseline"]]), num(x["model_scores"][x["model"]])]
        for x in report["comparison"]["changed"]
    ]
    return header, rows
