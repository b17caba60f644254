"""Fine-tune the top K layers of the bundled MiniLM on data/ + the real train split, then score the real dev
split three ways: the tuned encoder's own linear head, and the default recipe's linear layer (heads.py) on the
tuned embeddings in place of the shipped ones. The lower layers are run once and their output kept, so a step
costs only the K tuned layers (about 0.3 s for K = 2 on 2 quiet cores).

HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/finetune_top.py K EPOCHS LR WRITTEN_WEIGHT [tag]
(after cache.py). Results of 2026-12-06: bench/results/real-choices.md, round 3.
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
os.environ["HF_HUB_OFFLINE"] = "1"
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from model.embeddings import EmbedderConfig, Tokenizer
from model.labels import LABELS

K, EPOCHS, LR, DW = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
TAG = sys.argv[5] if len(sys.argv) > 5 else f"k{K}e{EPOCHS}lr{LR}dw{DW}"
torch.set_num_threads(2)
torch.manual_seed(0)
rng = np.random.default_rng(0)
t0 = time.time()

texts_path = WORK / "texts.pkl"
if not texts_path.exists():
    from model.features import normalize_all
    from model.inputs import Comment
    from training.config import TrainConfig
    from training.data import load_labelled
    from training.realdata import load_real

    cfg = TrainConfig()
    data = load_labelled(cfg.data)
    real = load_real(Path(cfg.real), Path(cfg.real_labels), ())
    rtrain = real.where(("train",))
    rdev = real.where(("dev",))
    Xd = data.comments()
    keep = [i for i, c in enumerate(rtrain.comments) if c.dataset != "sfu_ctc"]
    Xr = [Comment(rtrain.comments[i].text, rtrain.comments[i].context) for i in keep]
    Xv = [Comment(c.text, c.context) for c in rdev.comments]
    Path(texts_path).write_bytes(pickle.dumps((normalize_all(Xd + Xr), normalize_all(Xv))))
nX, nV = pickle.loads(Path(texts_path).read_bytes())
out, meta = pickle.loads(Path(WORK / "cache.pkl").read_bytes())
y = np.array([LABELS.index(v) for v in meta["y"]])
yv = np.array([LABELS.index(v) for v in meta["yv"]])
is_real = np.array(meta["is_real"])
assert len(nX) == len(y) and len(nV) == len(yv)

folder = EmbedderConfig().folder()
tok = Tokenizer(folder, 64, "head_tail")
model = AutoModel.from_pretrained(str(folder), local_files_only=True, attn_implementation="eager")
model.eval()
n_layers = len(model.encoder.layer)
frozen = model.encoder.layer[: n_layers - K]
tuned = model.encoder.layer[n_layers - K :]


def ext_mask(mask):
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def run_layers(layers, h, ext):
    for layer in layers:
        o = layer(h, attention_mask=ext)
        h = o[0] if isinstance(o, tuple) else o
    return h


def pool(h, mask):
    m = mask.unsqueeze(-1).float()
    p = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(p, dim=-1)


def base_states(texts, bs=64):
    """Hidden states after the frozen layers, one (len, 384) array per text."""
    order = np.argsort([len(t) for t in texts])
    res = [None] * len(texts)
    with torch.no_grad():
        for s in range(0, len(texts), bs):
            idx = order[s : s + bs]
            b = {k: torch.from_numpy(v) for k, v in tok([texts[i] for i in idx]).items()}
            h = model.embeddings(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"])
            ext = ext_mask(b["attention_mask"])
            h = run_layers(frozen, h, ext)
            lens = b["attention_mask"].sum(1)
            for j, i in enumerate(idx):
                res[i] = h[j, : lens[j]].clone()
    return res


# sanity: manual path == full model
b = {k: torch.from_numpy(v) for k, v in tok(nX[:8]).items()}
with torch.no_grad():
    full = pool(model(**b).last_hidden_state, b["attention_mask"])
    h = model.embeddings(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"])
    ext = ext_mask(b["attention_mask"])
    man = pool(run_layers(model.encoder.layer, h, ext), b["attention_mask"])
print("manual vs full max diff", (full - man).abs().max().item(), flush=True)

cache_p = WORK / f"base_k{K}.pt"
if cache_p.exists():
    HX, HV = torch.load(cache_p)
else:
    HX = base_states(nX)
    HV = base_states(nV)
    torch.save((HX, HV), cache_p)
print("base states", time.time() - t0, flush=True)


def batch_states(H, idx):
    L = max(H[i].shape[0] for i in idx)
    h = torch.zeros(len(idx), L, H[idx[0]].shape[1])
    mask = torch.zeros(len(idx), L, dtype=torch.long)
    for j, i in enumerate(idx):
        n = H[i].shape[0]
        h[j, :n] = H[i]
        mask[j, :n] = 1
    return h, mask


def encode(H, idx):
    h, mask = batch_states(H, idx)
    ext = ext_mask(mask)
    return pool(run_layers(tuned, h, ext), mask)


head = torch.nn.Linear(384, 3)
yt = torch.tensor(y)
w = torch.tensor(np.where(is_real == 1, 1.0, DW), dtype=torch.float32)
cls_w = torch.tensor(
    len(y) / (3 * np.bincount(y, weights=np.where(is_real == 1, 1.0, DW))) * (w.sum().item() / len(y)),
    dtype=torch.float32,
)
BS = 32
steps = int(round(EPOCHS * -(-len(y) // BS)))
params = [p for layer in tuned for p in layer.parameters()]
opt = torch.optim.AdamW([{"params": params, "lr": LR}, {"params": head.parameters(), "lr": 1e-3}], weight_decay=0.01)
warm = max(1.0, 0.1 * steps)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
for layer in tuned:
    layer.train()
step = 0
losses = []
while step < steps:
    order = rng.permutation(len(y))
    for s in range(0, len(order), BS):
        if step >= steps:
            break
        idx = order[s : s + BS]
        logits = head(20.0 * encode(HX, idx))
        per_row = torch.nn.functional.cross_entropy(logits, yt[idx], weight=cls_w, reduction="none")
        loss = (per_row * w[idx]).sum() / w[idx].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(loss.item())
        if step % 100 == 0 or step == steps:
            print(f"step {step}/{steps} loss {np.mean(losses[-100:]):.3f} {time.time() - t0:.0f}s", flush=True)
for layer in tuned:
    layer.eval()


def embed_all(H):
    res = np.zeros((len(H), 384), dtype=np.float32)
    order = np.argsort([x.shape[0] for x in H])
    with torch.no_grad():
        for s in range(0, len(H), 128):
            idx = order[s : s + 128]
            res[idx] = encode(H, idx).numpy()
    return res


EX = embed_all(HX)
EV = embed_all(HV)
with torch.no_grad():
    PV = torch.softmax(head(20.0 * torch.from_numpy(EV)), 1).numpy()
np.savez(WORK / f"ft_{TAG}.npz", EX=EX, EV=EV, PV=PV)
torch.save({k: v for k, v in tuned.state_dict().items()}, WORK / f"ft_{TAG}.layers.pt")
print("embedded", time.time() - t0, flush=True)

sys.path.insert(0, str(Path(__file__).parent))
import heads as R

R.report(f"{TAG} head only", PV)
R.out["embedding"] = (2.0 * EX, 2.0 * EV)
_, Z = R.variant(f"{TAG} shipped recipe", C=4.0)
_, Z2 = R.variant(f"{TAG} dw0.25 C1", C=1.0, dw=0.25)
P = R.softmax(Z)
for a in (0.3, 0.5):
    R.report(f"  blend lr*{1 - a}+head*{a}", (1 - a) * P + a * PV)
