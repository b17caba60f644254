"""The seeded sample of real public comments that we labelled ourselves under our own rubric.

The public sets answer their own questions (TubeSpam: is it spam *on YouTube*? OLID: is it offensive, which
includes untargeted swearing? SFU: is it toxic, from "mildly" up?). Our model answers ours
(../shared/labeling-rubric.md). bench/rubric.py measures how far the two agree and how the model does on
real comments judged by our rubric; this file only says which comments, and how to read them.

    python bench/rubric_sample.py --out /tmp/rubric     # writes the packets to label (text stays out of git)

The annotations (bench/annotations/rubric-<set>.csv) hold a row key and our labels only: no public text, and
not even the sets' own ids, is copied into this repository. A key is the first 16 hex digits of the sha256 of
"<set>:<the set's id>" (TubeSpam COMMENT_ID, OLID tweet id, SFU _unit_id).
"""

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same file reading and cleaning as the public-data readers that training and quality.py use.
from training.public import _clean, _csv, olid_test  # noqa: E402
from training.realdata import VIDEO_TITLES  # noqa: E402  (the videos' titles: what a TubeSpam comment sits under)

PUBLIC = ROOT.parent / "shared" / "data" / "public"
SEED = 20261129
SIZES = {"youtube_spam": 150, "olid": 150, "sfu_ctc": 200}


def row_key(name: str, ident: str) -> str:
    return hashlib.sha256(f"{name}:{ident}".encode()).hexdigest()[:16]


@dataclass
class Row:
    key: str
    text: str
    context: str  # the article or video title; "" for tweets, which sit under no article
    answer: int  # the set's own 0/1 answer to its question (never shown to annotators)


def youtube_spam(public: Path) -> list[Row]:
    rows, seen = [], set()
    for path in sorted((public / "youtube_spam").glob("Youtube0*.csv")):
        for r in _csv(path):
            text = _clean(r["CONTENT"])
            if text and text not in seen:
                seen.add(text)
                rows.append(
                    Row(row_key("youtube_spam", r["COMMENT_ID"]), text, VIDEO_TITLES[path.stem], int(r["CLASS"]))
                )
    return rows


def olid(public: Path) -> list[Row]:
    return [Row(row_key("olid", ident), tweet, "", answer) for ident, tweet, answer in olid_test(public)]


def sfu_ctc(public: Path) -> list[Row]:
    rows = _csv(public / "sfu_ctc" / "SFU_constructiveness_toxicity.csv")
    return [
        Row(
            row_key("sfu_ctc", r["_unit_id"]),
            r["comment"].strip(),
            r["title"],
            int(int(r["is_toxic_popular_answer_1"]) >= 2),
        )
        for r in rows
        if r["comment"].strip()
    ]


READERS = {"youtube_spam": youtube_spam, "olid": olid, "sfu_ctc": sfu_ctc}


def sample(name: str, public: Path = PUBLIC) -> list[Row]:
    """SIZES[name] rows of the set, drawn uniformly with a fixed seed (the same rows on every machine)."""
    rows = READERS[name](public)
    return random.Random(f"{SEED}-{name}").sample(rows, SIZES[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/rubric_sample.py", description=__doc__)
    parser.add_argument("--public", type=Path, default=PUBLIC)
    parser.add_argument("--out", type=Path, required=True, help="a folder outside the repository")
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error(f"--out {args.out} is inside the repository; public text must stay out of it")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in READERS:
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in sample(name, args.public):
                f.write(json.dumps({"key": row.key, "under": row.context, "text": row.text}, ensure_ascii=False))
                f.write("\n")
        print(f"{args.out / name}.jsonl: {SIZES[name]} comments to label (the set's own answers left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
