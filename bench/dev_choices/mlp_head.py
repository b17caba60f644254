"""Does a non-linear head add to the linear recipe, with the shipped encoder and with a larger one? (round 7)

Run from the repository root, after cache.py and other_encoder.py (their matrices and the larger encoder's
embeddings in .cache/dev-choices/):
    HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/mlp_head.py all-mpnet-base-v2

An MLP (512 hidden units) on embedding + lexicon + signals, written comments subsampled to a quarter (MLPClassifier
takes no sample weights), scored alone and averaged 50/50 with the linear recipe. Dev split only.
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heads  # loads cache.py's matrices


def dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def mlp(blocks: list[str], seed: int = 0) -> np.ndarray:
    xt = np.hstack([dense(heads.out[b][0]) for b in blocks])
    xv = np.hstack([dense(heads.out[b][1]) for b in blocks])
    scaler = StandardScaler().fit(xt)
    keep = (heads.is_real == 1) | (np.random.default_rng(seed).random(len(heads.y)) < 0.25)
    net = MLPClassifier((512,), alpha=1e-3, early_stopping=True, random_state=seed, max_iter=200)
    net.fit(scaler.transform(xt[keep]), heads.y[keep])
    return net.predict_proba(scaler.transform(xv))


def main(name: str) -> None:
    heads.out[name] = tuple(np.load(heads.WORK / f"{name}-{which}.npy") for which in ("train", "dev"))
    without = {k: v for k, v in heads.BASE.items() if k != "embedding"}
    _, z_small = heads.variant("shipped recipe", heads.BASE)
    _, z_large = heads.variant(f"{name}, written x0.25, C 1", {**without, name: 1}, C=1.0, dw=0.25)
    for encoder, z in (("embedding", z_small), (name, z_large)):
        p = mlp([encoder, "lexicon", "signals"])
        heads.report(f"MLP alone, {encoder}", p)
        heads.report(f"MLP 50/50 with the linear one, {encoder}", 0.5 * p + 0.5 * heads.softmax(z))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(
            "usage: mlp_head.py NAME  (NAME-train.npy and NAME-dev.npy in .cache/dev-choices/, from other_encoder.py)"
        )
    main(sys.argv[1])
