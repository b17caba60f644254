"""The report's sections in order, as blocks (text, table, chart) that the HTML and Markdown writers render."""

from dataclasses import dataclass
from typing import Any

from model.labels import LABELS, SUBSTANTIVE

from . import tables
from .fmt import ci, num, pct

SECTION_TITLES = {
    "summary": "Summary",
    "confusion": "Confusion matrix",
    "curves": "Precision-recall and ROC curves",
    "calibration": "Calibration",
    "policy": "Policy view",
    "slices": "Slices",
    "fairness": "Fairness: identity-group bias (toxic)",
    "errors": "Most confident mistakes",
    "comparison": "Comparison with the baseline",
}


@dataclass(frozen=True)
class Block:
    kind: str  # "text" | "table" | "chart" | "heading"
    content: Any
    caption: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: list[Block]


def text(s: str) -> Block:
    return Block("text", s)


def table(t: tables.Table, caption: str = "") -> Block:
    return Block("table", t, caption)


def sections(report: dict[str, Any]) -> list[Section]:
    out = [
        _summary(report),
        Section(
            "confusion",
            SECTION_TITLES["confusion"],
            [
                text(
                    "Rows are the true label, columns the model's top label. The right panel divides each row by its total: the diagonal is each label's recall."
                ),
                Block("chart", "confusion", "Confusion matrix: counts and row-normalised"),
                table(tables.confusion_table(report), "Counts"),
            ],
        ),
        Section(
            "curves",
            SECTION_TITLES["curves"],
            [
                text(
                    "Each label against the rest, by its own score. Curves nearer the top-left (ROC) or top-right (PR) rank better; the dotted line is the label's base rate."
                ),
                Block("chart", "curves", "Precision-recall and ROC curves per label"),
            ],
        ),
        Section(
            "calibration",
            SECTION_TITLES["calibration"],
            [
                text(
                    "Does a score of 0.8 mean 80%? Bars on the diagonal are honest; ECE is the average gap, weighted by how many comments fall in each of 10 score bins."
                ),
                Block("chart", "reliability", "Reliability diagrams per label"),
                table(tables.calibration_table(report), "Expected calibration error"),
            ],
        ),
        _policy(report),
        _slices(report),
        _fairness(report),
        _errors(report),
    ]
    if "comparison" in report:
        out.append(_comparison(report))
    return out


def _summary(report: dict[str, Any]) -> Section:
    h = report["headline"]
    model = report.get("model", {})
    data = report["data"]
    counts = ", ".join(f"{label} {data['label_counts'][label]:,}" for label in LABELS)
    lines = [
        text(
            f"Model {model.get('name', '?')} version {model.get('version', '?')} ({model.get('path', '')}); "
            f"{data['n']:,} labelled comments ({counts}) from {', '.join(data.get('sources', [])) or 'the given rows'}."
        ),
        text(
            f"Macro-F1 {num(h['macro_f1'])} {ci(h['macro_f1_ci'])}; accuracy {num(h['accuracy'])} {ci(h['accuracy_ci'])}. "
            f"Brackets are 95% intervals ({h['intervals']['method']})."
        ),
        table(tables.headline_table(report), "Per label, with 95% bootstrap intervals"),
    ]
    if "comparison" in report:
        lines.insert(2, text(f"Against the baseline: {report['comparison']['verdict']}."))
    return Section("summary", SECTION_TITLES["summary"], lines)


def _policy(report: dict[str, Any]) -> Section:
    p = report["policy"]
    thresholds = "; ".join(
        f"{label} hold ≥ {t['hold']:.2f}, reject ≥ {t['reject']:.2f}" for label, t in p["thresholds"].items()
    )
    blocks = [
        text(
            f"Policy {p['policy']} (version {p['version']}{', shadow mode' if p['shadow'] else ''}): {thresholds}. "
            f"Precision of an action: {p['precision_means']}."
        ),
        table(tables.policy_table(report), "What the policy would do with these comments"),
        text("To choose new thresholds: flag a comment when a label's score is at least t."),
        Block("chart", "thresholds", "Precision and recall of flagging at each threshold"),
    ]
    blocks.append(table(tables.threshold_table(report), "Flagging a label when its score is at least the threshold"))
    return Section("policy", SECTION_TITLES["policy"], blocks)


def _slices(report: dict[str, Any]) -> Section:
    s = report["slices"]
    shown = len(s["article"])
    return Section(
        "slices",
        SECTION_TITLES["slices"],
        [
            text(
                "The same metrics on parts of the data; a slice much worse than the whole needs a look before launch. F1 is '–' where a slice has no comment of that label."
            ),
            table(tables.slice_table(s["source"]), "By source"),
            table(tables.slice_table(s["length"]), "By comment length"),
            table(tables.slice_table(s["article_context"]), "With and without the article"),
            table(
                tables.slice_table(s["article"], with_title=True),
                f"By article ({shown} largest of {s['article_count']:,})",
            ),
        ],
    )


def _fairness(report: dict[str, Any]) -> Section:
    f = report["fairness"]
    blocks = [
        text(
            f"Comments that mention an identity group ({', '.join(f['categories'])}; terms in {f['term_list']}): "
            f"{f['comments_mentioning_any']:,} of {report['data']['n']:,}. Jigsaw unintended-bias measures on the toxic score: "
            "subgroup AUC (ranking within the group), BPSN (innocent mentions against abuse elsewhere: low means mentions alone raise the score), "
            "BNSP (abuse of the group against harmless comments elsewhere: low means such abuse is missed). "
            "The final metric is 0.25 × overall AUC + 0.25 × each bias metric's power mean (p = -5) over subgroups."
        ),
        table(tables.fairness_summary(report), "Summary"),
    ]
    if f["subgroups"]:
        blocks.append(
            table(tables.fairness_table(report), "Per subgroup ('–': the comparison lacks toxic or non-toxic comments)")
        )
    else:
        blocks.append(text("No comment mentions a listed identity term."))
    return Section("fairness", SECTION_TITLES["fairness"], blocks)


def _errors(report: dict[str, Any]) -> Section:
    e = report["errors"]
    blocks = [
        text(
            f"Misclassified comments: {e['count']:,}. The ones the model was surest about come first; they show what it has learnt wrong (or where the label is wrong)."
        ),
        table(tables.error_table(e["most_confident"]), f"The {len(e['most_confident'])} most confident mistakes"),
    ]
    for label in LABELS:
        per = e["per_label"][label]
        what = "approved wrongly" if label == SUBSTANTIVE else "flagged wrongly"
        blocks.append(
            table(tables.error_table(per["false_positives"]), f"False positives for {label} ({what}), by {label} score")
        )
        blocks.append(
            table(
                tables.error_table(per["false_negatives"]),
                f"False negatives for {label} (missed), by the wrong label's score",
            )
        )
    return Section("errors", SECTION_TITLES["errors"], blocks)


def _comparison(report: dict[str, Any]) -> Section:
    c = report["comparison"]
    base = c["baseline"]
    return Section(
        "comparison",
        SECTION_TITLES["comparison"],
        [
            text(
                f"Candidate against baseline {base.get('name', '?')} version {base.get('version', '?')} ({base.get('path', '')}) on the same {c['shared_comments']:,} comments. "
                f"{c['changed_count']:,} comments change label ({pct(c['changed_count'] / max(c['shared_comments'], 1))}): "
                f"{c['changed_fixed']:,} fixed, {c['changed_broken']:,} broken, the rest wrong both ways."
            ),
            table(tables.tests_table(report), "Paired tests"),
            table(tables.comparison_table(report), "Every headline metric"),
            table(
                tables.changed_table(report),
                f"Comments whose label changed (first {len(c['changed'])} of {c['changed_count']:,})",
            ),
        ],
    )
