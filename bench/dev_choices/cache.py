"""Fit the default recipe's feature blocks once on data/ + the real train split; cache the matrices of those
comments and of the real dev split, so that heads and weightings can be tried in seconds (heads.py).

Run from the repository root: HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/cache.py
Reads the public texts from ../shared/data/public. Looks at the dev split only, never the sealed one.
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".cache" / "dev-choices"  # matrices and tuned layers: built here, ignored by git
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
from model.features import make_blocks, normalize_all
from model.inputs import Comment
from training.config import TrainConfig
from training.data import load_labelled
from training.public import prepare_semantic
from training.realdata import load_real

t0 = time.time()
cfg = TrainConfig()
data = load_labelled(cfg.data)
real = load_real(Path(cfg.real), Path(cfg.real_labels), ())
rtrain = real.where(("train",))
rdev = real.where(("dev",))
cfg, emb, aux, meta = prepare_semantic(cfg, print)
Xd = data.comments()
yd = data.labels()
keep = [i for i, c in enumerate(rtrain.comments) if c.dataset != "sfu_ctc"]
Xr = [Comment(rtrain.comments[i].text, rtrain.comments[i].context) for i in keep]
yr = [rtrain.labels[i] for i in keep]
sr = [rtrain.comments[i].dataset for i in keep]
Xv = [Comment(c.text, c.context) for c in rdev.comments]
yv = list(rdev.labels)
sv = [c.dataset for c in rdev.comments]
X = Xd + Xr
nX = normalize_all(X)
nV = normalize_all(Xv)
print("loaded", len(Xd), len(Xr), len(Xv), time.time() - t0, flush=True)
blocks = make_blocks(tuple(cfg.features), emb, None)
out = {}
for b in blocks:
    b.fit(X, nX)
    out[b.name] = (b.transform(X, nX), b.transform(Xv, nV))
    print(b.name, time.time() - t0, flush=True)
meta = dict(
    y=yd + yr,
    is_real=[0] * len(Xd) + [1] * len(Xr),
    src=["data"] * len(Xd) + sr,
    groups=data.groups() + [f"r{i}" for i in range(len(Xr))],
    yv=yv,
    sv=sv,
)
WORK.mkdir(parents=True, exist_ok=True)
Path(WORK / "cache.pkl").write_bytes(pickle.dumps((out, meta)))
print("done", time.time() - t0)
