"""fp32 vs int8 sentence encoder: what quantisation costs in quality, what it buys in speed.

    HF_HUB_OFFLINE=1 python bench/encoder.py [--public ../shared/data/public] [--cap 1000]

Writes bench/results/encoder.{json,md}. For each precision, one run of the default recipe (TrainConfig's
features, data/ alone, no temperature calibration: it rescales logits and barely moves rankings):
1. held-out macro-F1: trained on 80% of the articles, scored on the other 20% (training/split.py);
2. zero-shot ROC-AUC on each public set (capped, seeded), trained on all of data/ -- as bench/quality.py (a);
3. the encoder alone on 600 corpus comments: texts/s on one thread, each precision batched as it runs.
int8 vectors are not fp32 vectors (cosine ~0.99), so an int8 model must be trained on int8: that is what
this compares, not a swap of the encoder under one trained model.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import aucs  # noqa: E402
from model.classifier import CommentClassifier  # noqa: E402
from model.embeddings import Embedder, EmbedderConfig, set_threads  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import load_labelled  # noqa: E402
from training.metrics import classification_metrics  # noqa: E402
from training.public import capped, load_public  # noqa: E402
from training.split import split_by_article  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PRECISIONS = ("fp32", "int8")


def log(message: str) -> None:
    print(f"[encoder {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def one_precision(precision: str, data: Any, sets: list, texts: list[str]) -> dict[str, Any]:
    embedder = Embedder(EmbedderConfig(precision=precision, max_length=128, truncation="head"), cache_size=200_000)
    features = tuple(TrainConfig().features)
    comments, labels, groups = data.comments(), data.labels(), data.groups()
    train, test = split_by_article(data, TrainConfig().test_size, TrainConfig().seed)

    def fit(idx: Any) -> CommentClassifier:
        model = CommentClassifier(features=features, embedder=embedder, calibration_folds=0)
        return model.fit([comments[i] for i in idx], [labels[i] for i in idx], groups=[groups[i] for i in idx])

    log(f"{precision}: held-out fit")
    held = classification_metrics([labels[i] for i in test], fit(train).predict_proba([comments[i] for i in test]))
    log(f"{precision}: zero-shot fit on all of data/")
    zero_shot = aucs(fit(np.arange(len(comments))), sets)
    fresh = Embedder(EmbedderConfig(precision=precision, max_length=128, truncation="head"), cache_size=0)
    fresh.embed(["warm up"])
    started = time.perf_counter()
    fresh.embed(texts)
    return {
        "held_out_macro_f1": round(held["macro_f1"], 4),
        "zero_shot_auc": zero_shot,
        "encoder_texts_per_s": round(len(texts) / (time.perf_counter() - started), 1),
    }


def markdown(r: dict[str, Any]) -> str:
    fp32, int8 = r["fp32"], r["int8"]
    lines = [
        "# Sentence encoder: fp32 vs int8",
        "",
        f"Command: `{r['command']}`; {r['finished']}. Default features {r['features']}, trained on data/ "
        f"without calibration; public sets capped at {r['cap']} rows (seeded). Encoder speed: 600 corpus "
        "comments, one thread; fp32 in length-sorted batches of 16, int8 one text per call (in a batch, "
        "dynamic quantisation makes a text's vector depend on its neighbours).",
        "",
        "| | fp32 | int8 | int8 - fp32 |",
        "|---|---|---|---|",
        f"| held-out macro-F1 | {fp32['held_out_macro_f1']} | {int8['held_out_macro_f1']} | "
        f"{int8['held_out_macro_f1'] - fp32['held_out_macro_f1']:+.4f} |",
    ]
    for name in fp32["zero_shot_auc"]:
        a, b = fp32["zero_shot_auc"][name], int8["zero_shot_auc"][name]
        lines.append(f"| zero-shot AUC {name} | {a} | {b} | {b - a:+.4f} |")
    speedup = int8["encoder_texts_per_s"] / fp32["encoder_texts_per_s"]
    lines += [
        f"| encoder texts/s (1 thread) | {fp32['encoder_texts_per_s']} | {int8['encoder_texts_per_s']} | "
        f"{speedup:.2f}x |",
        "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/encoder.py", description=__doc__)
    parser.add_argument("--public", type=Path, default=ROOT.parent / "shared" / "data" / "public")
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--cap", type=int, default=1000, help="rows per public set (seeded)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.public.is_dir():
        print(f"error: no public data at {args.public}; pass --public DIR", file=sys.stderr)
        return 2
    set_threads(1)
    data = load_labelled([args.data])
    sets = [capped(s, args.cap) for s in load_public(args.public) if s.split in ("test", "all")]
    rng = np.random.default_rng(0)
    all_texts = [c.text for c in data.comments()]
    texts = [all_texts[i] + " ." for i in rng.choice(len(all_texts), size=600, replace=False)]
    result: dict[str, Any] = {"command": "python bench/encoder.py", "cap": args.cap}
    result["features"] = list(TrainConfig().features)
    for precision in PRECISIONS:
        result[precision] = one_precision(precision, data, sets, texts)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoder.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "encoder.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
