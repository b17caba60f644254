"""How well can anything score the Toxic Spans set's attribute labels? A ceiling set by the annotators' agreement.

    HF_HUB_OFFLINE=1 python bench/attribute_ceiling.py          # -> bench/results/perspective-ceiling.{md,json}

Issue 21 asks for ROC-AUC >= 0.85 per attribute against labels made from 3-7 annotators per comment
(training/toxic_spans.py: positive when at least half of them marked a span of that type). When annotators
disagree often, even a model that knew each comment's true rate of "yes" votes would rank the majority's 0/1
label imperfectly. Two figures bound what a model can reach, from the annotators alone (no model is run):

- **Oracle ROC-AUC.** Each comment's votes are modelled as Binomial(n, p) with p ~ Beta(a, b) across comments
  (beta-binomial, fitted by maximum likelihood on the votes), fitted apart for comments with three annotators
  and with four or more: the two groups were drawn differently, and one fit for both misses the three-annotator
  vote counts by up to 0.035 (a free-form rate distribution fitted by EM did no better; per group, both fit
  and give oracles within 0.01 of each other). The oracle knows every comment's p; its ROC-AUC against the
  simulated majority label is the ceiling under that model. The fit is checked against the vote counts
  observed among comments with three annotators (most of the set).
- **One annotator against the others.** Among comments with four or more annotators: one annotator's vote
  (ROC-AUC) or spans (SemEval-2021 Task 5 character F1) against the majority of the remaining ones. What a
  single trained person scores on the same question.

Comments of the held-out (`test`) part and of data/real's sealed split are left out: this reads the train,
calibration and dev parts only. The model's own held-out figures are read from the shipped model's
attributes metadata (models/default/attributes, written by training/attributes.py) and set beside the ceiling.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.attribute_files import read_attributes  # noqa: E402
from training.attribute_fit import span_f1  # noqa: E402
from training.toxic_spans import FOLDER, SPAN_TYPES, _majority, read_set  # noqa: E402

PUBLIC = ROOT.parent / "shared" / "data" / "public"
RESULTS = ROOT / "bench" / "results"
QUESTIONS = (*SPAN_TYPES, "TOXICITY")
MAX_ANNOTATORS = 7  # one comment has 357 annotations (a control item): left out
SIMULATIONS = 50


def votes(public: Path) -> list[dict]:
    """Per comment of the train/calibration/dev parts: n annotators, each one's answers and character marks."""
    comments, notes, spans = read_set(public)
    out = []
    for cid, text, part in comments:
        own = notes.get(cid, [])
        if part in (None, "test") or not 1 <= len(own) <= MAX_ANNOTATORS:
            continue
        people = []
        for a in own:
            marked = spans.get(a["annotation"], [])
            toxic = a["not toxic"] != "True"
            chars = {i for _, s, e in marked for i in range(max(0, s), min(len(text), e))}
            if toxic and a["all toxic"] == "True" and not marked:
                chars = set(range(len(text)))
            answers = {t: any(k == t for k, _, _ in marked) for t in SPAN_TYPES}
            answers["TOXICITY"] = toxic
            people.append({"answers": answers, "chars": chars})
        out.append({"n": len(people), "people": people})
    return out


def fit_beta(k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    def nll(log_ab: np.ndarray) -> float:
        a, b = np.exp(log_ab)
        return -float(np.sum(betaln(k + a, n - k + b) - betaln(a, b)))

    a, b = np.exp(minimize(nll, np.zeros(2), method="Nelder-Mead").x)
    return float(a), float(b)


def beta_binomial(k: int, n: int, a: float, b: float) -> float:
    log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return float(np.exp(log_choose + betaln(k + a, n - k + b) - betaln(a, b)))


def oracle_auc(groups: list[tuple[np.ndarray, float, float]], rng: np.random.Generator) -> float:
    """Mean ROC-AUC of the true rates against simulated majority labels; `groups`: (annotator counts, a, b)."""
    n = np.concatenate([g[0] for g in groups])
    aucs = []
    for _ in range(SIMULATIONS):
        p = np.concatenate([rng.beta(a, b, len(m)) for m, a, b in groups])
        y = rng.binomial(n, p) * 2 >= n  # positive when at least half said yes, as the labels are made
        aucs.append(roc_auc_score(y, p))
    return float(np.mean(aucs))


def one_against_rest(comments: list[dict], question: str) -> float | None:
    """ROC-AUC of each annotator's vote against the majority of the others', comments with 4+ annotators."""
    x, y = [], []
    for c in comments:
        if c["n"] < 4:
            continue
        answers = [p["answers"][question] for p in c["people"]]
        for i, mine in enumerate(answers):
            rest = answers[:i] + answers[i + 1 :]
            x.append(mine)
            y.append(sum(rest) * 2 >= len(rest))
    return float(roc_auc_score(y, x)) if 0 < sum(y) < len(y) else None


def span_one_against_rest(comments: list[dict]) -> dict[str, float]:
    """SemEval character F1 of each annotator's spans against the majority of the others' (4+ annotators)."""
    f1 = []
    for c in comments:
        if c["n"] < 4:
            continue
        marks = [p["chars"] for p in c["people"]]
        for i, mine in enumerate(marks):
            f1.append(span_f1(mine, _majority(marks[:i] + marks[i + 1 :])))
    return {"f1": float(np.mean(f1)), "pairs": len(f1)}


def measure(comments: list[dict], seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = np.array([c["n"] for c in comments])
    out: dict = {"comments": len(comments), "by_annotators": {str(m): int((n == m).sum()) for m in sorted(set(n))}}
    out["attributes"] = {}
    groups = {"3": n == 3, "4+": n >= 4}
    for q in QUESTIONS:
        k = np.array([sum(p["answers"][q] for p in c["people"]) for c in comments])
        betas = {g: fit_beta(k[m], n[m]) for g, m in groups.items()}
        three = k[n == 3]
        fit = {
            str(j): {
                "observed": round(float((three == j).mean()), 4),
                "model": round(beta_binomial(j, 3, *betas["3"]), 4),
            }
            for j in range(4)
        }
        out["attributes"][q] = {
            "positive_share": round(float((k * 2 >= n).mean()), 4),
            "beta": {g: [round(a, 3), round(b, 3)] for g, (a, b) in betas.items()},
            "fit_three_annotators": fit,
            "oracle_auc": round(oracle_auc([(n[m], *betas[g]) for g, m in groups.items()], rng), 4),
            "one_annotator_auc": one_against_rest(comments, q),
        }
    out["spans_one_annotator"] = span_one_against_rest(comments)
    return out


def shipped(model_dir: Path) -> dict | None:
    """The model's held-out figures, or None (said on stderr) when it has no attributes: the ceiling stands alone."""
    attributes = read_attributes(model_dir)  # a damaged folder raises ArtifactError, naming the fix
    if attributes is None:
        print(f"note: {model_dir} has no attributes/; only the ceiling is reported", file=sys.stderr)
        return None
    return attributes.metadata.get("held_out")


def markdown(result: dict) -> str:
    model = result.get("model") or {}
    aucs = (model.get("test") or {}).get("roc_auc", {})
    span = ((model.get("test") or {}).get("spans") or {}).get("TOXICITY", {})
    lines = [
        "# What the Toxic Spans labels allow: a ceiling from the annotators' agreement",
        "",
        f"Command: `{result['command']}`. Comments read: {result['comments']} of the train, calibration and dev",
        "parts (the held-out `test` part and data/real's sealed split are not read); annotators per comment:",
        f"{result['by_annotators']}. How each figure is made: the module docstring of bench/attribute_ceiling.py.",
        "",
        "| attribute | positives | oracle ROC-AUC (beta-binomial) | one annotator vs the others | shipped model, held-out ROC-AUC | model's share of the oracle's margin over chance |",
        "|---|---|---|---|---|---|",
    ]
    for q, r in result["attributes"].items():
        mine = (aucs.get(q) or {}).get("auc")
        share = f"{(mine - 0.5) / (r['oracle_auc'] - 0.5):.0%}" if mine else "–"
        one = f"{r['one_annotator_auc']:.3f}" if r["one_annotator_auc"] is not None else "–"
        lines.append(
            f"| {q} | {r['positive_share']:.1%} | {r['oracle_auc']:.3f} | {one} | "
            f"{f'{mine:.3f}' if mine else '–'} | {share} |"
        )
    s = result["spans_one_annotator"]
    lines += [
        "",
        "Spans (any type, SemEval-2021 Task 5 character F1): one annotator against the majority of the others "
        f"{s['f1']:.3f} ({s['pairs']} annotator-comment pairs, comments with 4+ annotators); shipped model on the "
        f"held-out part {span.get('f1', float('nan')):.3f}, word-list baseline {span.get('wordlist_f1', float('nan')):.3f}.",
        "",
        "How well the beta-binomial model fits, comments with three annotators (share with 0-3 yes votes):",
        "",
        "| attribute | observed 0 / 1 / 2 / 3 | model 0 / 1 / 2 / 3 |",
        "|---|---|---|",
    ]
    for q, r in result["attributes"].items():
        f = r["fit_three_annotators"]
        obs = " / ".join(f"{f[str(j)]['observed']:.3f}" for j in range(4))
        mod = " / ".join(f"{f[str(j)]['model']:.3f}" for j in range(4))
        lines.append(f"| {q} | {obs} | {mod} |")
    lines += ["", "Raw results: perspective-ceiling.json beside this file.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--public", type=Path, default=PUBLIC)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--out", type=Path, default=RESULTS / "perspective-ceiling")
    args = parser.parse_args(argv)
    if not (args.public / FOLDER).is_dir():
        print(f"error: {args.public / FOLDER} not found; pass --public with the public data folder", file=sys.stderr)
        return 1
    result = {"command": "python bench/attribute_ceiling.py", **measure(votes(args.public))}
    result["model"] = shipped(args.model_dir)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
