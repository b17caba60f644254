"""Real public comments labelled by our rubric: readers that join data/real/labels.csv to the public texts.

The repository keeps keys and labels only (data/real/labels.csv); the texts stay in ../shared/data/public
and are read here at training and evaluation time. A key is the first 16 hex digits of the sha256 of
"<set>:<the set's own id>" (the scheme of bench/annotations/), so no public text and no raw id is copied.

Each reader yields every usable comment of a set as a RealComment: its key, text, the context a labeller
and the model see (video or article title; "" where the set has none) and the set's own answer to its own
question (`hint`), which is used only to stratify the sample so rare kinds are drawn, never as a label.
"""

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .public import PublicDataError, _clean, _csv, _olid_tsv, olid_test

# Where each set's texts come from, its licence, and whether a commercial site may run a model trained on it.
LICENCES: dict[str, tuple[str, bool]] = {
    "civil_comments_toxic_spans": ("CC0 1.0 (Civil Comments via ipavlopoulos/toxic_spans)", True),
    "sfu_ctc": ("CC BY-NC-SA 4.0 (non-commercial)", False),
    "youtube_spam": ("CC BY 4.0 as listed by UCI (no licence in the original release)", True),
    "olid": ("CC BY 4.0 hosting repo; no licence in the OLID README (citation request)", True),
    "olid_test": ("CC BY 4.0 hosting repo; no licence in the OLID README (citation request)", True),
    "davidson_hate_offensive": ("MIT (Davidson et al. 2017)", True),
    "implicit_hate": ("CC BY 4.0 (ElSherief et al. 2021)", True),
    "tweeteval_hate": ("released without restrictions (TweetEval); HatEval task terms apply", True),
    "wiki_toxicity_testset": ("Apache-2.0 (conversationai)", True),
}
# Texts shorter or longer than this (after collapsing white space) are not drawn: too short to judge, or
# longer than a labeller reads with care.
MIN_CHARS, MAX_CHARS = 3, 1500
VIDEO_TITLES = {
    "Youtube01-Psy": "PSY - GANGNAM STYLE (M/V)",
    "Youtube02-KatyPerry": "Katy Perry - Roar (Official)",
    "Youtube03-LMFAO": "LMFAO - Party Rock Anthem ft. Lauren Bennett, GoonRock",
    "Youtube04-Eminem": "Eminem - Love The Way You Lie ft. Rihanna",
    "Youtube05-Shakira": "Shakira - Waka Waka (This Time for Africa)",
}
# What kind of place each set's comments come from, as labellers were told; tweets: none.
KINDS = {
    "civil_comments_toxic_spans": "a news article",
    "sfu_ctc": "a news opinion article",
    "youtube_spam": "a YouTube music video",
    "wiki_toxicity_testset": "a Wikipedia talk page",
}


@dataclass(frozen=True)
class RealComment:
    dataset: str
    key: str
    text: str
    context: str  # the article or video title the comment sits under; "" where the set has none
    hint: str  # the set's own answer, for stratified sampling only

    @property
    def shown(self) -> str:
        """What labellers were told the comment sits under (the model reads `context` only)."""
        kind = KINDS.get(self.dataset, "")
        return f"{self.context} ({kind})" if self.context else kind


def row_key(dataset: str, ident: str) -> str:
    # OLID's official test tweets keep the "olid:" prefix of bench/annotations/, whose keys they share.
    prefix = "olid" if dataset == "olid_test" else dataset
    return hashlib.sha256(f"{prefix}:{ident}".encode()).hexdigest()[:16]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _civil(root: Path) -> Iterator[RealComment]:
    base = root / "civil_comments_toxic_spans"
    votes: dict[str, list[bool]] = {}
    for r in _csv(base / "annotations.csv"):
        votes.setdefault(r["comment_id"], []).append(r["not toxic"] == "True")
    for r in _csv(base / "comments.csv"):
        v = votes.get(r["comment_id"], [])
        hint = "not_toxic" if v and sum(v) * 2 >= len(v) else "toxic"
        yield RealComment("civil_comments_toxic_spans", r["comment_id"], r["comment_text"], "", hint)


def _sfu(root: Path) -> Iterator[RealComment]:
    for r in _csv(root / "sfu_ctc" / "SFU_constructiveness_toxicity.csv"):
        hint = "toxic" if int(r["is_toxic_popular_answer_1"]) >= 2 else r["is_constructive"]
        yield RealComment("sfu_ctc", r["_unit_id"], r["comment"], r["title"], hint)


def _youtube(root: Path) -> Iterator[RealComment]:
    for path in sorted((root / "youtube_spam").glob("Youtube0*.csv")):
        for r in _csv(path):
            hint = "spam" if r["CLASS"] == "1" else "ham"
            yield RealComment("youtube_spam", r["COMMENT_ID"], _clean(r["CONTENT"]), VIDEO_TITLES[path.stem], hint)


def _olid(root: Path) -> Iterator[RealComment]:
    for r in _olid_tsv(root / "olid" / "olid-training-v1.0.tsv"):
        yield RealComment("olid", r["id"], r["tweet"], "", r["subtask_a"])


def _olid_test(root: Path) -> Iterator[RealComment]:
    for ident, tweet, off in olid_test(root):
        yield RealComment("olid_test", ident, tweet, "", "OFF" if off else "NOT")


def _davidson(root: Path) -> Iterator[RealComment]:
    names = {"0": "hate", "1": "offensive", "2": "neither"}
    for r in _csv(root / "davidson_hate_offensive" / "labeled_data.csv"):
        yield RealComment("davidson_hate_offensive", r[""], _clean(r["tweet"]), "", names[r["class"]])


def _implicit(root: Path) -> Iterator[RealComment]:
    path = root / "implicit_hate" / "implicit_hate_v1_stg1_posts.tsv"
    if not path.is_file():
        raise PublicDataError(f"{path} not found; expected the layout described in {path.parent}/SOURCE.txt")
    with open(path, encoding="utf-8", newline="") as f:
        for i, r in enumerate(csv.DictReader(f, delimiter="\t")):
            # Posts are wrapped in stray quote marks by the release; they are not part of the text.
            text = r["post"].replace('""', '"').strip(' "')
            yield RealComment("implicit_hate", str(i), text, "", r["class"])


def _tweeteval(root: Path) -> Iterator[RealComment]:
    base = root / "tweeteval_hate"
    texts = (base / "train_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (base / "train_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise PublicDataError(f"{base}: train_text.txt has {len(texts)} lines, train_labels.txt {len(labels)}")
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        yield RealComment("tweeteval_hate", str(i), text, "", "hate" if label == "1" else "not")


def _wiki(root: Path) -> Iterator[RealComment]:
    for r in _csv(root / "wiki_toxicity_testset" / "toxicity_nonfuzzed_testset.csv"):
        text = r["comment"].replace("NEWLINE_TOKEN", "\n")
        yield RealComment("wiki_toxicity_testset", r["rev_id"], text, "", r["toxic"])


READERS: dict[str, Callable[[Path], Iterator[RealComment]]] = {
    "civil_comments_toxic_spans": _civil,
    "sfu_ctc": _sfu,
    "youtube_spam": _youtube,
    "olid": _olid,
    "olid_test": _olid_test,
    "davidson_hate_offensive": _davidson,
    "implicit_hate": _implicit,
    "tweeteval_hate": _tweeteval,
    "wiki_toxicity_testset": _wiki,
}
# Where each reader's files live under the public folder.
FOLDERS = {name: ("olid" if name == "olid_test" else name) for name in READERS}


def read_set(root: Path, dataset: str) -> dict[str, RealComment]:
    """Every usable comment of one set by hashed key: white space collapsed, length-bounded, first of duplicates."""
    out: dict[str, RealComment] = {}
    seen: set[str] = set()
    for c in READERS[dataset](root):
        text = _flat(c.text)
        if not MIN_CHARS <= len(text) <= MAX_CHARS or text.lower() in seen:
            continue
        seen.add(text.lower())
        key = row_key(dataset, c.key)
        out[key] = RealComment(dataset, key, text, c.context, c.hint)
    return out


def raw_key_map(root: Path, dataset: str) -> dict[str, str]:
    """The set's own id -> hashed key, for joining files keyed by raw ids (../shared/data/rubric_pass1)."""
    return {c.key: row_key(dataset, c.key) for c in READERS[dataset](root)}


# -- the labels -----------------------------------------------------------------------------------------
LABELS_FILE = Path(__file__).resolve().parent.parent / "data" / "real" / "labels.csv"
# "extra": labelled comments a later round added that the default recipe leaves out, because they made the dev
# split worse (data/real/README.md, round 4); `real_splits = ["train", "extra"]` trains on them too.
SPLITS = ("train", "dev", "sealed", "extra")
COLUMNS = ("dataset", "key", "split", "a", "b", "c")


class RealLabelError(ValueError):
    """data/real/labels.csv (or a file of its shape) cannot be used; the message names the line and the fix."""


@dataclass(frozen=True)
class RealLabel:
    dataset: str
    key: str
    split: str
    a: str  # first blind pass
    b: str  # second blind pass
    c: str  # third reading, where the passes disagreed

    @property
    def label(self) -> str | None:
        """The final label: the third reading, else the passes where they agree; None while undecided."""
        if self.c:
            return self.c
        return self.a if self.a and self.a == self.b else None


def read_labels(path: Path = LABELS_FILE) -> list[RealLabel]:
    from model.labels import LABELS

    if not path.is_file():
        raise RealLabelError(f"{path} not found; it ships with the repository (data/real/labels.csv)")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise RealLabelError(f"{path}: columns are {reader.fieldnames}; expected {list(COLUMNS)}")
        out, seen = [], set()
        for line, r in enumerate(reader, start=2):
            if r["dataset"] not in READERS:
                raise RealLabelError(f"{path} line {line}: dataset {r['dataset']!r}; expected one of {list(READERS)}")
            if r["split"] not in SPLITS:
                raise RealLabelError(f"{path} line {line}: split {r['split']!r}; expected one of {list(SPLITS)}")
            for column in "abc":
                if r[column] and r[column] not in LABELS:
                    raise RealLabelError(
                        f"{path} line {line}: column {column} is {r[column]!r}; expected empty or one of {list(LABELS)}"
                    )
            if (r["dataset"], r["key"]) in seen:
                raise RealLabelError(f"{path} line {line}: {r['dataset']} key {r['key']} appears twice; keep one")
            seen.add((r["dataset"], r["key"]))
            out.append(RealLabel(**{c: r[c] for c in COLUMNS}))
    return out


@dataclass
class RealSet:
    """Labelled real comments joined to their texts, with what was left out and why."""

    comments: list[RealComment]
    labels: list[str]
    splits: list[str]
    undecided: int  # passes disagree and no third reading yet
    missing: dict[str, int]  # dataset -> labelled keys whose text the public folder lacks

    def where(self, splits: tuple[str, ...]) -> "RealSet":
        keep = [i for i, s in enumerate(self.splits) if s in splits]
        return RealSet(
            [self.comments[i] for i in keep],
            [self.labels[i] for i in keep],
            [self.splits[i] for i in keep],
            self.undecided,
            self.missing,
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.comments:
            out[c.dataset] = out.get(c.dataset, 0) + 1
        return out


def load_real(public: Path, path: Path = LABELS_FILE, exclude: tuple[str, ...] = ()) -> RealSet:
    """Every decided label of `path` joined to its text in `public`, sets in `exclude` left out."""
    if not public.is_dir():
        raise PublicDataError(f"public data folder {public} does not exist; the real comments' texts are read there")
    labels = [r for r in read_labels(path) if r.dataset not in exclude]
    texts: dict[str, dict[str, RealComment]] = {}
    for name in sorted({r.dataset for r in labels}):
        texts[name] = read_set(public, name) if (public / FOLDERS[name]).is_dir() else {}
    comments, final, splits, missing, undecided = [], [], [], {}, 0
    for r in labels:
        label = r.label
        if label is None:
            undecided += 1
            continue
        found = texts[r.dataset].get(r.key)
        if found is None:
            missing[r.dataset] = missing.get(r.dataset, 0) + 1
            continue
        comments.append(found)
        final.append(label)
        splits.append(r.split)
    return RealSet(comments, final, splits, undecided, missing)
