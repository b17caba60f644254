"""Draw the real-comment sample that data/real/labels.csv labels, and write labelling packets for it.

    python bench/real_sample.py draw --out /tmp/real          # the sample, its splits, and blind packets
    python bench/real_sample.py merge --out /tmp/real         # labelled packets -> data/real/labels.csv
    python bench/real_sample.py extend --out /tmp/round4 --dataset civil_comments_toxic_spans --size 800
                                                              # more comments of one set, train split only

The sample is drawn once with a fixed seed: every comment already labelled (../shared/data/rubric_pass1,
bench/annotations/) plus a stratified draw per set up to SIZES. The sealed test split is drawn first, from
comments nobody has made a choice on (the 500 of bench/annotations/ were looked at while writing the corpus,
so they go to dev). Packets hold an id, the context and the text only: neither the set's own answer nor the
other pass's label. Texts are written outside the repository, never into it.
"""

import argparse
import csv
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.realdata import READERS, RealComment, raw_key_map, read_set  # noqa: E402

PUBLIC = ROOT.parent / "shared" / "data" / "public"
PASS1 = ROOT.parent / "shared" / "data" / "rubric_pass1" / "labels.csv"
ANNOTATIONS = ROOT / "bench" / "annotations"
LABELS = ROOT / "data" / "real" / "labels.csv"
SEED = 20261205
# Comments per set in the sample (at most what the set has). News comments weigh most: they are the target.
SIZES = {
    "civil_comments_toxic_spans": 3400,
    "sfu_ctc": 1121,
    "youtube_spam": 1956,
    "olid": 1300,
    "olid_test": 150,
    "davidson_hate_offensive": 1000,
    "implicit_hate": 1600,
    "tweeteval_hate": 800,
    "wiki_toxicity_testset": 1000,
}
# Later rounds, each drawn with `extend` after the first draw, never into dev or sealed (data/real/README.md).
# (set, size, split); round 4's went to "extra" once they made the dev split worse (real-choices.md).
ROUNDS = [("civil_comments_toxic_spans", 800, "extra")]  # round 4, 2026-12-06
SEALED_SHARE, DEV_SHARE = 0.2, 0.15
PACKET_SIZE = 750
CONTEXT_NONE = "(no article: a post on social media)"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _strata_draw(rows: list[RealComment], quota: int, rng: random.Random) -> list[RealComment]:
    """`quota` rows, half in proportion to the set's own classes and half shared equally, so rare kinds show."""
    by: dict[str, list[RealComment]] = defaultdict(list)
    for r in rows:
        by[r.hint].append(r)
    total, k = len(rows), len(by)
    want = {h: min(len(v), round(quota * (0.5 * len(v) / total + 0.5 / k))) for h, v in by.items()}
    while sum(want.values()) < quota and any(want[h] < len(by[h]) for h in by):
        for h in sorted(by, key=lambda h: want[h] - len(by[h])):
            if sum(want.values()) < quota and want[h] < len(by[h]):
                want[h] += 1
    picked = []
    for h in sorted(by):
        picked += rng.sample(sorted(by[h], key=lambda r: r.key), want[h])
    return picked


def _existing(public: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Labels given before this sample: pass 1 (one pass) and bench/annotations/ (two passes + reading)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    pass1 = _rows(PASS1)
    keymaps = {d: raw_key_map(public, d) for d in {r["dataset"] for r in pass1}}
    for r in pass1:
        key = keymaps[r["dataset"]].get(r["key"])
        if key:
            found[(r["dataset"], key)] = {"a": r["label"], "origin": "pass1"}
    for name, dataset in (("youtube_spam", "youtube_spam"), ("sfu_ctc", "sfu_ctc"), ("olid", "olid_test")):
        for r in _rows(ANNOTATIONS / f"rubric-{name}.csv"):
            found[(dataset, r["key"])] = {"a": r["a"], "b": r["b"], "c": r["label"], "origin": "bench"}
    return found


def draw(public: Path) -> list[dict[str, str]]:
    existing = _existing(public)
    rows: list[dict[str, str]] = []
    for dataset in READERS:
        comments = read_set(public, dataset)
        rng = random.Random(f"{SEED}-{dataset}")
        have = [c for k, c in comments.items() if (dataset, k) in existing]
        rest = [c for k, c in comments.items() if (dataset, k) not in existing]
        chosen = have + _strata_draw(rest, max(0, SIZES[dataset] - len(have)), rng)
        # Sealed first, from comments no choice has looked at; then dev; the rest trains.
        fresh = sorted(
            (c for c in chosen if existing.get((dataset, c.key), {}).get("origin") != "bench"), key=lambda c: c.key
        )
        rng.shuffle(fresh)
        sealed = {c.key for c in fresh[: round(SEALED_SHARE * len(chosen))]}
        others = sorted((c for c in chosen if c.key not in sealed), key=lambda c: c.key)
        rng.shuffle(others)
        dev = {c.key for c in others[: round(DEV_SHARE * len(chosen))]}
        dev |= {c.key for c in chosen if existing.get((dataset, c.key), {}).get("origin") == "bench"}
        for c in sorted(chosen, key=lambda c: c.key):
            split = "sealed" if c.key in sealed else "dev" if c.key in dev else "train"
            prior = existing.get((dataset, c.key), {})
            rows.append({"dataset": dataset, "key": c.key, "split": split, **{p: prior.get(p, "") for p in "abc"}})
    return rows


def extend(
    public: Path, dataset: str, size: int, rows: list[dict[str, str]], split: str = "train"
) -> list[dict[str, str]]:
    """`rows` (the sample so far), plus `size` comments of `dataset` not among them, stratified as
    the first draw was. The new ones all go to `split` (train, or extra: labelled, left out of the default
    recipe); the sealed and dev splits stay exactly what they were,
    so figures on them compare across rounds. Comments in the Perspective attributes' held-out part
    (sha256("attributes-test:" + id) in the first 20%, training/toxic_spans.py) are not drawn, so that part
    stays unseen by the main model too."""
    rows = list(rows)
    have = {r["key"] for r in rows if r["dataset"] == dataset}
    comments = read_set(public, dataset)
    fresh = [c for k, c in comments.items() if k not in have and 3 <= len(c.text) <= 1500]
    if dataset == "civil_comments_toxic_spans":
        raw = {hashed: ident for ident, hashed in raw_key_map(public, dataset).items()}
        fresh = [c for c in fresh if _share(raw[c.key], "attributes-test") >= 0.2]
    rng = random.Random(f"{SEED}-extend-{dataset}-{len(have)}")
    chosen = _strata_draw(fresh, size, rng)
    rows += [{"dataset": dataset, "key": c.key, "split": split, "a": "", "b": "", "c": ""} for c in chosen]
    return rows


def sample(public: Path) -> list[dict[str, str]]:
    """The whole sample data/real/labels.csv labels, split for split: the first draw, then each later round."""
    rows = draw(public)
    for dataset, size, split in ROUNDS:
        rows = extend(public, dataset, size, rows, split)
    return rows


def _share(key: str, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000


def write_packets(rows: list[dict[str, str]], public: Path, out: Path, size: int = PACKET_SIZE) -> None:
    texts = {d: read_set(public, d) for d in READERS}
    for p in ("a", "b"):
        todo = [r for r in rows if not r[p]]
        random.Random(f"{SEED}-pass-{p}").shuffle(todo)
        for i in range(0, len(todo), size):
            name = f"{p.upper()}{i // size + 1:02d}"
            with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f, open(out / f"{name}.map", "w") as m:
                for j, r in enumerate(todo[i : i + size]):
                    c = texts[r["dataset"]][r["key"]]
                    f.write(
                        json.dumps({"id": j + 1, "under": c.shown or CONTEXT_NONE, "text": c.text}, ensure_ascii=False)
                        + "\n"
                    )
                    m.write(f"{j + 1},{r['dataset']},{r['key']}\n")
            print(f"{out / name}.jsonl: {len(todo[i : i + size])} comments")


def merge(out: Path) -> None:
    rows = _rows(out / "sample.csv")
    index = {(r["dataset"], r["key"]): r for r in rows}
    for packet in sorted(out.glob("[ABC][0-9][0-9].map")):
        labelled = out / f"{packet.stem}.labels.csv"
        if not labelled.is_file():
            print(f"{labelled}: missing, skipped")
            continue
        ids = {i: (d, k) for i, d, k in (line.split(",") for line in packet.read_text().split())}
        got = {}
        for line in labelled.read_text(encoding="utf-8").splitlines():
            parts = [p.strip() for p in line.strip().split(",")]
            if len(parts) == 2 and parts[0].isdigit() and parts[1] in ("spam", "toxic", "substantive"):
                got[parts[0]] = parts[1]
        for i, label in got.items():
            if i in ids:
                index[ids[i]][packet.stem[0].lower()] = label
        print(f"{packet.stem}: {len(got)} of {len(ids)} labelled")
    LABELS.parent.mkdir(parents=True, exist_ok=True)
    with open(LABELS, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ["dataset", "key", "split", "a", "b", "c"], lineterminator="\n")
        w.writeheader()
        w.writerows({k: r[k] for k in ["dataset", "key", "split", "a", "b", "c"]} for r in rows)
    print(f"{LABELS}: {len(rows)} rows; {Counter(bool(r['a'] and r['b']) for r in rows)[True]} with both passes")


def write_disagreements(public: Path, out: Path, size: int = 400) -> None:
    """Packets of the comments whose passes disagree, each with the two labels given (in random order)."""
    rows = [r for r in _rows(LABELS) if r["a"] and r["b"] and r["a"] != r["b"] and not r["c"]]
    first = len(list(out.glob("C[0-9][0-9].map")))  # packets of an earlier round keep their names
    rng = random.Random(f"{SEED}-pass-c-{first}")
    rng.shuffle(rows)
    texts = {d: read_set(public, d) for d in READERS}
    for i in range(0, len(rows), size):
        name = f"C{first + i // size + 1:02d}"
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f, open(out / f"{name}.map", "w") as m:
            for j, r in enumerate(rows[i : i + size]):
                c = texts[r["dataset"]][r["key"]]
                options = sorted([r["a"], r["b"]], key=lambda _: rng.random())
                record = {"id": j + 1, "under": c.shown or CONTEXT_NONE, "text": c.text, "choose_between": options}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                m.write(f"{j + 1},{r['dataset']},{r['key']}\n")
        print(f"{out / name}.jsonl: {len(rows[i : i + size])} disagreements")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/real_sample.py", description=__doc__)
    parser.add_argument("command", choices=["draw", "extend", "merge", "disagreements"])
    parser.add_argument("--dataset", default="civil_comments_toxic_spans", help="extend: the set to draw from")
    parser.add_argument("--size", type=int, default=800, help="extend: how many more comments")
    parser.add_argument("--packet", type=int, default=PACKET_SIZE, help="comments per labelling packet")
    parser.add_argument("--public", type=Path, default=PUBLIC)
    parser.add_argument("--out", type=Path, required=True, help="a folder outside the repository")
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error(f"--out {args.out} is inside the repository; public text must stay out of it")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "merge":
        merge(args.out)
        return 0
    if args.command == "disagreements":
        write_disagreements(args.public, args.out)
        return 0
    if args.command == "extend":
        rows = extend(args.public, args.dataset, args.size, _rows(LABELS))
    else:
        rows = draw(args.public)
    with open(args.out / "sample.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ["dataset", "key", "split", "a", "b", "c"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    counts = Counter((r["dataset"], r["split"]) for r in rows)
    for d in READERS:
        print(f"{d}: " + ", ".join(f"{s} {counts[(d, s)]}" for s in ("sealed", "dev", "train")))
    print(f"{len(rows)} comments")
    write_packets(rows, args.public, args.out, args.packet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
