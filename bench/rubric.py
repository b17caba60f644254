"""Real comments judged by our rubric: how the public sets' answers relate to it, and how the model does.

    HF_HUB_OFFLINE=1 python bench/rubric.py [--model models/current] [--public ../shared/data/public]

The zero-shot AUCs in bench/quality.py score our model against each public set's own question. Those
questions are not our rubric's (TubeSpam calls "love this song" ham; OLID calls untargeted swearing
offensive; SFU's toxic starts at "mildly"). Here a seeded sample of 500 of those real comments
(bench/rubric_sample.py) carries labels given under ../shared/labeling-rubric.md: two independent passes by
language-model annotators working for this project (not people), blind to the set's answer and to the model,
disagreements settled by a third reading
(bench/annotations/rubric-<set>.csv: key, pass a, pass b, final label; no public text). It reports:

1. agreement between the two passes (Cohen's kappa): how sharply the rubric decides real comments;
2. the rubric against each set's answer: how each set's yes/no splits over our labels, and the ROC-AUC that
   the rubric itself would score against the set (our final label as a 0/1 score): what a labeller that
   followed our rubric exactly would score (a model's probabilities also rank comments within one of our
   labels, so a model can land above or below it);
3. the model on the same comments, against the set's answer (AUC, as quality.py, on this sample) and
   against our labels (3-way macro-F1, per-label AUC, top-label ECE): the figure closest to "real comments
   from sites we never saw, judged as we would";
4. what a policy file (default policies/default.toml) would do with each of our labels: how many civil
   comments it would hold or reject, how much abuse and spam it would let through.

Results: bench/results/rubric.{json,md}. Nothing here trains; labels are for evaluation only, never fitted.
"""

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rubric_sample import PUBLIC, READERS, Row, sample  # noqa: E402

from model.artifact import load_model  # noqa: E402
from model.calibration import expected_calibration_error  # noqa: E402
from model.inputs import Comment  # noqa: E402
from model.labels import LABELS  # noqa: E402
from model.policy import load_policy  # noqa: E402
from training.metrics import classification_metrics  # noqa: E402

ANNOTATIONS = ROOT / "bench" / "annotations"
RESULTS = ROOT / "bench" / "results"
# The set's question -> the label of ours that answers it.
QUESTION = {"youtube_spam": ("spam", "spam"), "olid": ("offensive", "toxic"), "sfu_ctc": ("toxic", "toxic")}


class AnnotationError(ValueError):
    """An annotation file does not match the seeded sample it labels."""


def read_annotations(name: str, keys: list[str], folder: Path = ANNOTATIONS) -> list[dict[str, str]]:
    """The annotation rows of set `name`, in sample order; every sampled key exactly once, labels valid."""
    path = folder / f"rubric-{name}.csv"
    if not path.is_file():
        raise AnnotationError(f"{path} not found: label the packet from bench/rubric_sample.py --out DIR first")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_key: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        for column in ("a", "b", "label"):
            if row.get(column) not in LABELS:
                raise AnnotationError(
                    f"{path} line {line}: column {column!r} is {row.get(column)!r}; expected one of {list(LABELS)}"
                )
        if row["key"] in by_key:
            raise AnnotationError(f"{path} line {line}: key {row['key']} appears twice; keep one row per comment")
        by_key[row["key"]] = row
    missing, extra = [k for k in keys if k not in by_key], sorted(set(by_key) - set(keys))
    if missing or extra:
        raise AnnotationError(
            f"{path}: {len(missing)} sampled keys have no row (first {missing[:3]}), {len(extra)} rows are not in "
            f"the sample (first {extra[:3]}); the sample is fixed by bench/rubric_sample.py's SEED and SIZES"
        )
    return [by_key[k] for k in keys]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return round(float(roc_auc_score(y, score)), 4) if 0 < y.sum() < len(y) else None


def evaluate(name: str, rows: list[Row], estimator: Any) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """Set `name`'s figures on its sampled rows, our labels and the model's probabilities (LABELS order)."""
    notes = read_annotations(name, [r.key for r in rows])
    ours = [n["label"] for n in notes]
    answer = np.array([r.answer for r in rows])
    question, label = QUESTION[name]
    proba = _in_label_order(estimator.predict_proba([Comment(r.text, r.context) for r in rows]), estimator.classes_)
    column = LABELS.index(label)
    splits = {
        f"{question}={value}": dict(Counter(o for o, a in zip(ours, answer, strict=True) if a == value))
        for value in (1, 0)
    }
    return (
        {
            "n": len(rows),
            "passes_agree": round(float(np.mean([n["a"] == n["b"] for n in notes])), 4),
            "cohen_kappa": round(float(cohen_kappa_score([n["a"] for n in notes], [n["b"] for n in notes])), 4),
            "our_labels": dict(Counter(ours)),
            "set_answer_by_our_label": splits,
            "rubric_auc_vs_set": _auc(answer, np.array([o == label for o in ours], dtype=float)),
            "model_auc_vs_set": _auc(answer, proba[:, column]),
            "model_vs_rubric": _rounded(classification_metrics(ours, proba)),
            "model_ece_vs_rubric": round(
                expected_calibration_error(proba, np.array([LABELS.index(o) for o in ours])), 4
            ),
        },
        ours,
        proba,
    )


def _in_label_order(proba: np.ndarray, classes: Any) -> np.ndarray:
    return proba[:, [list(classes).index(label) for label in LABELS]]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def profanity_check_aucs(texts: list[str], pooled_ours: list[str]) -> dict[str, Any] | str:
    """alt-profanity-check's score against our toxic label, beside the model's."""
    try:
        from profanity_check import predict_prob
    except ImportError:
        return 'not installed: pip install -e ".[bench]"'
    y = np.array([o == "toxic" for o in pooled_ours], dtype=float)
    return {"toxic_auc_vs_rubric_pooled": _auc(y, np.asarray(predict_prob(texts)))}


def policy_view(path: Path | None, ours: list[str], proba: np.ndarray) -> dict[str, Any]:
    """Share of each of our labels that the policy would approve, hold and reject (no site, no copy-paste)."""
    policy = load_policy(path)
    decided = [policy.decide(dict(zip(LABELS, map(float, p), strict=True))).decided for p in proba]
    by_label = {}
    for label in LABELS:
        mine = [d for d, o in zip(decided, ours, strict=True) if o == label]
        if not mine:
            continue
        by_label[label] = {a: round(mine.count(a) / len(mine), 4) for a in ("approve", "hold", "reject")}
    return {"file": str(path or "policies/default.toml"), "version": policy.version, "by_our_label": by_label}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Real comments judged by our rubric",
        "",
        f"Command: `{result['command']}` ({result['seconds']} s, {result['finished']}). Model: `{result['model']}`.",
        "",
        "A seeded sample of real comments from three public sets, labelled by us under "
        "`../shared/labeling-rubric.md` in two independent passes by language-model annotators (not people), blind "
        "to the set's answer and to the model; "
        "disagreements settled by a third reading (`bench/annotations/`). Both passes were made by the same kind "
        "of annotator, so their agreement flatters how sharply the rubric decides for people. These comments were used to "
        "diagnose the model before the corpus's third round (`data/README.md`): they are no longer a blind "
        "test of the corpus.",
        "",
        "## How the sets' answers relate to our rubric",
        "",
        "| set | n | passes agree | kappa | our labels | set says yes -> our labels | set says no -> our labels "
        "| rubric's own AUC vs the set | model AUC vs the set (this sample) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["sets"].items():
        yes, no = r["set_answer_by_our_label"].values()
        lines.append(
            f"| {name} ({QUESTION[name][0]}) | {r['n']} | {r['passes_agree']:.2f} | {r['cohen_kappa']:.2f} | "
            f"{_counts(r['our_labels'])} | {_counts(yes)} | {_counts(no)} | {_fmt(r['rubric_auc_vs_set'])} | "
            f"{_fmt(r['model_auc_vs_set'])} |"
        )
    lines += [
        "",
        "The rubric's own AUC treats our final label as a 0/1 score for the set's question: what a labeller "
        "that followed our rubric exactly would score against the set's answers. A model's probabilities also "
        "rank comments within one of our labels, so it can land above or below that line.",
        "",
        "## The model against our labels",
        "",
        "| comments | n | accuracy | macro-F1 | spam F1 / AUC | toxic F1 / AUC | substantive F1 / AUC | top-label ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [(name, r["model_vs_rubric"], r["model_ece_vs_rubric"]) for name, r in result["sets"].items()]
    rows.append(("all three, pooled", result["pooled"]["model_vs_rubric"], result["pooled"]["model_ece_vs_rubric"]))
    for name, m, ece in rows:
        cells = [f"{m['per_label'][k]['f1']:.2f} / {_fmt(m['per_label'][k]['roc_auc'])}" for k in LABELS]
        lines.append(
            f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {' | '.join(cells)} | {ece:.3f} |"
        )
    pooled = result["pooled"]["model_vs_rubric"]
    lines += [
        "",
        "Confusion, pooled (rows: our label; columns: the model's):",
        "",
        "| | " + " | ".join(LABELS) + " |",
        "|---|" + "---|" * len(LABELS),
    ]
    for label, counts in zip(LABELS, pooled["confusion_matrix"]["matrix"], strict=True):
        lines.append(f"| {label} | " + " | ".join(str(c) for c in counts) + " |")
    view = result["policy"]
    lines += [
        "",
        f"## What the policy would do (`{view['file']}`, version {view['version']}, pooled)",
        "",
        "| our label | approve | hold | reject |",
        "|---|---|---|---|",
    ]
    for label, shares in view["by_our_label"].items():
        lines.append(f"| {label} | " + " | ".join(f"{shares[a]:.0%}" for a in ("approve", "hold", "reject")) + " |")
    apc = result["alt_profanity_check"]
    if isinstance(apc, dict):
        lines += [
            "",
            f"alt-profanity-check against our toxic label, pooled: AUC {_fmt(apc['toxic_auc_vs_rubric_pooled'])} "
            f"(the model: {_fmt(pooled['per_label']['toxic']['roc_auc'])}).",
        ]
    return "\n".join(lines) + "\n"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{label} {counts.get(label, 0)}" for label in LABELS)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/rubric.py", description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current")
    parser.add_argument("--public", type=Path, default=PUBLIC)
    parser.add_argument("--policy", type=Path, help="policy file for the policy view (default: the shipped one)")
    parser.add_argument("--out", default="rubric", help="results file stem in bench/results/")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    estimator = load_model(args.model).estimator
    result: dict[str, Any] = {"command": " ".join(["python bench/rubric.py", *(argv or sys.argv[1:])])}
    result["model"] = str(
        args.model.resolve().relative_to(ROOT) if args.model.resolve().is_relative_to(ROOT) else args.model
    )
    result["sets"], pooled_texts, pooled_ours, pooled_proba = {}, [], [], []
    for name in READERS:
        rows = sample(name, args.public)
        result["sets"][name], ours, proba = evaluate(name, rows, estimator)
        pooled_texts += [r.text for r in rows]
        pooled_ours += ours
        pooled_proba.append(proba)
    proba = np.vstack(pooled_proba)
    result["pooled"] = {
        "model_vs_rubric": _rounded(classification_metrics(pooled_ours, proba)),
        "model_ece_vs_rubric": round(
            expected_calibration_error(proba, np.array([LABELS.index(o) for o in pooled_ours])), 4
        ),
    }
    result["policy"] = policy_view(args.policy, pooled_ours, proba)
    result["alt_profanity_check"] = profanity_check_aucs(pooled_texts, pooled_ours)
    result["seconds"] = round(time.perf_counter() - started)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / f"{args.out}.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
