"""Real comments judged by our rubric, at scale: the model on the dev or the sealed split of data/real/.

    HF_HUB_OFFLINE=1 python bench/real.py                                  # dev split, models/current
    HF_HUB_OFFLINE=1 python bench/real.py --baseline /tmp/data-only/current  # beside a data/-only model
    HF_HUB_OFFLINE=1 python bench/real.py --split sealed                   # the test: once per round

data/real/labels.csv holds 12,845 real public comments (keys and labels only; bench/real_sample.py drew
them) labelled under ../shared/labeling-rubric.md in two blind passes by language-model annotators, with a
third reading where they disagreed. The dev split is for choices; the sealed split is scored once per
round, and every run of it is appended to bench/results/real-sealed-log.md so the count is visible.

Reports, per source and pooled: agreement of the two passes; the model's macro-F1, per-label F1 and
ROC-AUC, top-label ECE; how many civil comments it calls toxic and how many substantive ones it calls spam;
what the policy (policies/default.toml) would do with each of our labels; alt-profanity-check's toxic AUC;
and the issue's targets, met or not. Results: bench/results/real-<split>.{json,md}.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rubric import _in_label_order, _rounded, policy_view, profanity_check_aucs  # noqa: E402

from model.artifact import load_model  # noqa: E402
from model.calibration import expected_calibration_error  # noqa: E402
from model.inputs import Comment  # noqa: E402
from model.labels import LABELS  # noqa: E402
from training.metrics import classification_metrics  # noqa: E402
from training.realdata import LABELS_FILE, load_real, read_labels  # noqa: E402

PUBLIC = ROOT.parent / "shared" / "data" / "public"
RESULTS = ROOT / "bench" / "results"
# The quality targets on the sealed split (issue 19).
TARGETS = {
    "macro_f1": (">=", 0.85),
    "min_label_f1": (">=", 0.80),
    "civil_called_toxic": ("<=", 0.08),
    "substantive_called_spam": ("<=", 0.08),
    "substantive_rejected": ("<=", 0.02),
    "ece": ("<=", 0.05),
    "min_source_macro_f1": (">=", 0.75),
}


def figures(ours: list[str], proba: np.ndarray, policy: Path | None) -> dict[str, Any]:
    """The model's figures on one group of comments (probabilities in LABELS order)."""
    y = np.array(ours)
    pred = np.array(LABELS)[proba.argmax(axis=1)]
    civil = y != "toxic"
    substantive = y == "substantive"
    view = policy_view(policy, ours, proba)
    return {
        "metrics": _rounded(classification_metrics(ours, proba)),
        "ece": round(expected_calibration_error(proba, np.array([LABELS.index(o) for o in ours])), 4),
        "civil_called_toxic": round(float((pred[civil] == "toxic").mean()), 4) if civil.any() else None,
        "substantive_called_spam": (
            round(float((pred[substantive] == "spam").mean()), 4) if substantive.any() else None
        ),
        "policy": view,
    }


def agreement(rows: list[Any]) -> dict[str, Any]:
    both = [r for r in rows if r.a and r.b]
    if not both:
        return {"n_both_passes": 0}
    a, b = [r.a for r in both], [r.b for r in both]
    return {
        "n_both_passes": len(both),
        "passes_agree": round(float(np.mean([x == y for x, y in zip(a, b, strict=True)])), 4),
        "cohen_kappa": round(float(cohen_kappa_score(a, b)), 4),
        # One pass scored as if it were the model, against the other: what one reader of the rubric reaches,
        # beside which the model's figures and the targets can be read.
        "pass_macro_f1": round(float(f1_score(b, a, labels=sorted({*a, *b}), average="macro")), 4),
        "pass_civil_called_toxic": (
            round(float(np.mean([x == "toxic" for x, y in zip(a, b, strict=True) if y != "toxic"])), 4)
            if any(y != "toxic" for y in b)
            else None
        ),
        "third_readings": sum(1 for r in both if r.c and r.a != r.b),
    }


def score(model_dir: Path, comments: list[Any]) -> np.ndarray:
    estimator = load_model(model_dir).estimator
    proba = estimator.predict_proba([Comment(c.text, c.context) for c in comments])
    return _in_label_order(proba, estimator.classes_)


# Splits of one public set are one source: OLID's test split is OLID (its tiny share of a split would otherwise
# stand as a "source" of its own, with a macro-F1 from a handful of comments).
POOLED = {"olid_test": "olid"}


def source_of(dataset: str) -> str:
    return POOLED.get(dataset, dataset)


def evaluate(model_dir: Path, real: Any, policy: Path | None) -> dict[str, Any]:
    proba = score(model_dir, real.comments)
    out: dict[str, Any] = {"pooled": figures(real.labels, proba, policy), "sources": {}}
    datasets = np.array([source_of(c.dataset) for c in real.comments])
    for name in dict.fromkeys(datasets):
        keep = np.flatnonzero(datasets == name)
        out["sources"][name] = figures([real.labels[i] for i in keep], proba[keep], policy)
    return out


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    pooled = result["pooled"]
    m = pooled["metrics"]
    substantive_policy = pooled["policy"]["by_our_label"].get("substantive", {})
    found = {
        "macro_f1": m["macro_f1"],
        "min_label_f1": min(m["per_label"][k]["f1"] for k in LABELS),
        "civil_called_toxic": pooled["civil_called_toxic"],
        "substantive_called_spam": pooled["substantive_called_spam"],
        "substantive_rejected": substantive_policy.get("reject"),
        "ece": pooled["ece"],
        "min_source_macro_f1": min(s["metrics"]["macro_f1"] for s in result["sources"].values()),
    }
    return {
        k: {"found": v, "target": f"{op} {t}", "met": v is not None and (v >= t if op == ">=" else v <= t)}
        for k, v in found.items()
        for op, t in [TARGETS[k]]
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Real comments judged by our rubric: the {result['split']} split",
        "",
        f"Command: `{result['command']}` ({result['finished']}). Labels: `data/real/labels.csv` (two blind passes by "
        "language-model annotators, a third reading of disagreements). "
        + (
            "The sealed split: never trained on, never used for a choice; each scoring is logged in "
            "`real-sealed-log.md`."
            if result["split"] == "sealed"
            else "The dev split: choices were made on it, so it flatters."
        ),
        "",
        "## Targets (issue 19), pooled",
        "",
        "| measure | target | " + " | ".join(result["models"]) + " |",
        "|---|---|" + "---|" * len(result["models"]),
    ]
    for key in TARGETS:
        cells = []
        for name in result["models"]:
            v = result["models"][name]["verdicts"][key]
            cells.append("n/a" if v["found"] is None else f"{v['found']:.3f}{'' if v['met'] else ' (not met)'}")
        lines.append(f"| {key} | {TARGETS[key][0]} {TARGETS[key][1]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Agreement of the two blind passes, all splits",
        "",
        "One pass scored against the other as if it were the model: what one reader of the rubric reaches.",
        "",
        "| source | comments | passes agree | kappa | macro-F1, one pass vs the other | civil called toxic, one pass vs the other | third readings |",
        "|---|---|---|---|---|---|---|",
    ]
    for source, a in result["agreement_all_splits"].items():
        lines.append(
            f"| {source} | {a['n_both_passes']} | {_fmt(a.get('passes_agree'))} | {_fmt(a.get('cohen_kappa'))} | "
            f"{_fmt(a.get('pass_macro_f1'))} | {_fmt(a.get('pass_civil_called_toxic'))} | {a.get('third_readings', 0)} |"
        )
    apc = result.get("alt_profanity_check")
    if isinstance(apc, dict):
        lines += [
            "",
            f"alt-profanity-check, toxic ROC-AUC against our labels: {apc['toxic_auc_vs_rubric_pooled']:.3f}.",
        ]
    for name, r in result["models"].items():
        lines += [
            "",
            f"## {name}: `{r['model']}`",
            "",
            "| source | n | agree | kappa | macro-F1 | spam F1 / AUC | toxic F1 / AUC | substantive F1 / AUC | ECE | "
            "civil called toxic | substantive called spam | substantive rejected |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        rows = [*r["sources"].items(), ("pooled", r["pooled"])]
        for source, f in rows:
            m = f["metrics"]
            agree = result["agreement"].get(source, {})
            cells = [f"{m['per_label'][k]['f1']:.2f} / {_fmt(m['per_label'][k]['roc_auc'])}" for k in LABELS]
            rejected = f["policy"]["by_our_label"].get("substantive", {}).get("reject")
            lines.append(
                f"| {source} | {m['n']} | {_fmt(agree.get('passes_agree'))} | {_fmt(agree.get('cohen_kappa'))} | "
                f"{m['macro_f1']:.3f} | {' | '.join(cells)} | {f['ece']:.3f} | {_fmt(f['civil_called_toxic'])} | "
                f"{_fmt(f['substantive_called_spam'])} | {_fmt(rejected)} |"
            )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/real.py", description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current")
    parser.add_argument("--baseline", type=Path, action="append", default=[], help="another model, side by side")
    parser.add_argument("--split", choices=["dev", "sealed"], default="dev")
    parser.add_argument("--public", type=Path, default=PUBLIC)
    parser.add_argument("--labels", type=Path, default=LABELS_FILE)
    parser.add_argument("--policy", type=Path, help="policy file (default: the shipped one)")
    args = parser.parse_args(argv)
    real = load_real(args.public, args.labels).where((args.split,))
    labels = [r for r in read_labels(args.labels) if r.split == args.split]
    result: dict[str, Any] = {
        "command": " ".join(["python bench/real.py", *(argv if argv is not None else sys.argv[1:])]),
        "split": args.split,
        "n": len(real.comments),
        "undecided_left_out": sum(1 for r in labels if r.label is None),
        "agreement": {
            name: agreement([r for r in labels if source_of(r.dataset) == name])
            for name in dict.fromkeys(source_of(r.dataset) for r in labels)
        },
        "models": {},
    }
    result["agreement"]["pooled"] = agreement(labels)
    everything = read_labels(args.labels)
    result["agreement_all_splits"] = {
        name: agreement([r for r in everything if source_of(r.dataset) == name])
        for name in dict.fromkeys(source_of(r.dataset) for r in everything)
    }
    result["agreement_all_splits"]["pooled"] = agreement(everything)
    for name, path in [("model", args.model), *((f"baseline {i + 1}", p) for i, p in enumerate(args.baseline))]:
        r = evaluate(path, real, args.policy)
        r["model"] = str(path)
        r["verdicts"] = verdicts(r)
        result["models"][name] = r
    result["alt_profanity_check"] = profanity_check_aucs([c.text for c in real.comments], real.labels)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"real-{args.split}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / f"{stem}.md").write_text(markdown(result), encoding="utf-8")
    if args.split == "sealed":
        with open(RESULTS / "real-sealed-log.md", "a", encoding="utf-8") as log:
            met = {n: sum(v["met"] for v in r["verdicts"].values()) for n, r in result["models"].items()}
            log.write(f"- {result['finished']}: `{result['command']}`; targets met: {met}\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
