"""Refit only the linear layer on cache.py's matrices and score the real dev split: one line per candidate.

HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/heads.py '{"name": "C 1", "C": 1.0}' '{"name": "written x0.25", "C": 1.0, "dw": 0.25}'
Keys: name, scales (per block), C, rw (weight of a real comment), dw (weight of a written one).
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import json
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".cache" / "dev-choices"  # matrices and tuned layers: built here, ignored by git
sys.path.insert(0, str(ROOT))
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from model.labels import LABELS

out, meta = pickle.loads(Path(WORK / "cache.pkl").read_bytes())
y = np.array([LABELS.index(v) for v in meta["y"]])
yv = np.array([LABELS.index(v) for v in meta["yv"]])
is_real = np.array(meta["is_real"])
sv = np.array(meta["sv"])
src = np.array(meta["src"])
S, T, U = 0, 1, 2
assert LABELS == ("spam", "toxic", "substantive") or list(LABELS) == ["spam", "toxic", "substantive"], LABELS


def mat(scales, which):
    parts = []
    for name, s in scales.items():
        m = out[name][which]
        parts.append(sp.csr_matrix(m) * s if s != 1 else sp.csr_matrix(m))
    return sp.hstack(parts, format="csr")


def report(name, P, extra=""):
    pred = P.argmax(1)
    mf = f1_score(yv, pred, average="macro")
    per = f1_score(yv, pred, average=None)
    civil = yv != T
    sub = yv == U
    ct = (pred[civil] == T).mean()
    ss = (pred[sub] == S).mean()
    srcf = {s: f1_score(yv[sv == s], pred[sv == s], average="macro", labels=[0, 1, 2]) for s in sorted(set(sv))}
    print(
        f"{name:40s} mF1 {mf:.3f} F1 {per[0]:.2f}/{per[1]:.2f}/{per[2]:.2f} civil->tox {ct:.3f} sub->spam {ss:.3f} min-src {min(srcf.values()):.3f} civ {srcf['civil_comments_toxic_spans']:.2f} sfu {srcf['sfu_ctc']:.2f} {extra}",
        flush=True,
    )
    return mf


def lr(Xt, yt, w, C):
    return LogisticRegression(C=C, max_iter=3000).fit(Xt, yt, sample_weight=w)


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


BASE = {"word": 1, "char": 1, "signals": 1, "embedding": 1, "lexicon": 1}


def variant(name, scales=BASE, C=4.0, rw=1.0, dw=1.0, keep=None):
    t = time.time()
    Xt = mat(scales, 0)
    Xv = mat(scales, 1)
    w = np.where(is_real == 1, rw, dw).astype(float)
    idx = np.arange(len(y)) if keep is None else np.flatnonzero(keep)
    m = lr(Xt[idx], y[idx], w[idx], C)
    Z = m.decision_function(Xv)
    report(name, softmax(Z), f"{time.time() - t:.0f}s")
    return m, Z


if __name__ == "__main__":
    for spec in sys.argv[1:]:
        kw = json.loads(spec)
        variant(**kw)
