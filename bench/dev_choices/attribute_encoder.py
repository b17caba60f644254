"""What a larger frozen encoder buys the Perspective attribute heads (issue 21), on the parts choices are made on.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/attribute_encoder.py /path/to/all-mpnet-base-v2

Builds the heads' inputs (embedding + word lists + span-table summary, training/attributes.py) twice: with the
shipped model's encoder and with the sentence-transformers folder given (fp32, torch, same 64 word pieces), fits the
heads the way training.attributes does, and prints per attribute (a) ROC-AUC on the calibration part's own comments
(where C is chosen: optimistic, equally for both) and (b) 5-fold out-of-fold ROC-AUC over the train part's own
comments at that C. Reads the train and calibration parts only: never the held-out test part, never the sealed split.
Embeddings are remembered in .cache/attributes (by encoder config and texts). Writes
bench/results/perspective-encoder.md.
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from model.attributes import ATTRIBUTES, SUMMARY_COLUMNS, head_inputs
from model.normalize import normalize
from training.attribute_fit import WordTables, binary, fit_heads, folds_of, out_of_fold, shares
from training.attributes import CALM_WEIGHT, embed, encoder_config
from training.toxic_spans import load_calm, load_toxic_spans


def main(folder: str) -> None:
    public = ROOT.parent / "shared" / "data" / "public"
    comments = [c for c in load_toxic_spans(public) + load_calm(public) if c.part in ("train", "calibration")]
    tr = [c for c in comments if c.part == "train"]
    cal = [c for c in comments if c.part == "calibration"]
    folds = folds_of(tr)
    tables = WordTables(tr, folds)
    summaries_tr = tables.train_summaries()
    summaries_cal = np.array([tables.full.summarise(c.text) for c in cal]).reshape(len(cal), SUMMARY_COLUMNS)
    norm_tr, norm_cal = [normalize(c.text) for c in tr], [normalize(c.text) for c in cal]
    y_tr = {a: shares(tr, a) for a in ATTRIBUTES}
    y_cal = {a: binary(cal, a) for a in ATTRIBUTES}
    own_cal = np.array([not c.calm for c in cal])
    own_tr = np.array([not c.calm for c in tr])
    weight = np.array([CALM_WEIGHT if c.calm else 1.0 for c in tr])
    shipped = encoder_config(ROOT / "models" / "default")
    other = {**shipped, "path": folder, "sha256": "unverified", "runtime": "torch", "precision": "fp32"}
    print(f"train {len(tr)} ({own_tr.sum()} own), calibration {len(cal)} ({own_cal.sum()} own)", flush=True)
    found: dict[str, list[tuple[float, float]]] = {}
    names = (f"shipped ({shipped.get('precision', 'int8')})", f"{Path(folder).name} (fp32)")
    for name, config in zip(names, (shipped, other), strict=True):
        cache = ROOT / ".cache" / "attributes"
        x_tr = head_inputs(embed(norm_tr, config, cache), norm_tr, summaries_tr)
        x_cal = head_inputs(embed(norm_cal, config, cache), norm_cal, summaries_cal)
        heads, chosen = fit_heads(x_tr, y_tr, x_cal, y_cal, own_cal, weight)
        p_cal = heads.predict(x_cal)
        oof = out_of_fold(x_tr, y_tr, chosen, folds, weight)
        found[name] = []
        for k, a in enumerate(ATTRIBUTES):
            yc, yt = y_cal[a][own_cal], binary(tr, a)[own_tr]
            found[name].append((roc_auc_score(yc, p_cal[own_cal, k]), roc_auc_score(yt, oof[own_tr, k])))
            print(f"{name} {a}: calibration {found[name][-1][0]:.3f}, out of fold {found[name][-1][1]:.3f}", flush=True)
    positives = {a: (int(binary(cal, a)[own_cal].sum()), int(binary(tr, a)[own_tr].sum())) for a in ATTRIBUTES}
    write(found, positives, folder, len(tr), len(cal))


def write(found: dict[str, list[tuple[float, float]]], positives: dict, folder: str, n_tr: int, n_cal: int) -> None:
    a, b = found
    lines = [
        "# Perspective attribute heads: the shipped encoder against a larger one",
        "",
        f"Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/attribute_encoder.py {folder}`"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        f"Heads fitted as `training.attributes` fits them, on the train part ({n_tr} comments, calm ones included)"
        f" of civil_comments_toxic_spans; scored on the calibration part's own comments ({n_cal} with the calm ones),",
        "where each head's C is chosen (optimistic, equally for both), and out of fold (5 folds) over the train",
        "part's own comments at that C. The held-out test part is not read. Both encoders frozen, 64 word pieces;",
        "the heads read the embedding beside the word-list counts and the span table's summary.",
        "",
        f"| attribute | positives (calibration + train) | {a}: calibration / out of fold | {b}: calibration / out of fold |",
        "|---|---|---|---|",
    ]
    for k, name in enumerate(ATTRIBUTES):
        (ca, oa), (cb, ob) = found[a][k], found[b][k]
        lines.append(
            f"| {name} | {positives[name][0]} + {positives[name][1]} | {ca:.3f} / {oa:.3f} | {cb:.3f} / {ob:.3f} |"
        )
    out = ROOT / "bench" / "results" / "perspective-encoder.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1])
