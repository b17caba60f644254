"""The Toxic Spans set (../shared/data/public/civil_comments_toxic_spans) as per-attribute targets, gold character
spans and a fixed held-out part, for training/attributes.py.

Targets, per comment, from its 3-7 annotators (annotations.csv, spans.csv):

    TOXICITY          share of annotators who judged it toxic ("not toxic" False)
    INSULT, PROFANITY, THREAT, IDENTITY_ATTACK
                      share of annotators who marked at least one span of that type (Insult, Profane/Obscene,
                      Threat, Identity based Attack; "Other toxicity" counts for TOXICITY only)
    SEVERE_TOXICITY   the set has no severity question, so it is defined from what it has: 1 when every annotator
                      judged it toxic AND at least half of them either marked the whole text toxic or marked
                      spans of two or more types; else 0. A strong, unanimous judgement, not Perspective's own
                      definition (docs/perspective.md says so).

A comment is positive for an attribute when the share is at least 0.5.

Gold spans (SemEval-2021 Task 5): the character offsets that a majority (more than half) of the comment's
annotators marked, whatever the type; an annotator who marked the whole text toxic without spans marked every
character. Per type, the same rule over that type's spans.

Calm comments beside them: the set was drawn from comments a classifier scored as likely toxic, so it has
almost no ordinary comment, and heads trained on it alone rate a polite remark as a coin toss. The rubric-
labelled real comments of data/real/labels.csv's `train` split that are NOT toxic (substantive or spam) from the
other public sets (SFU left out: its licence is non-commercial, as for the shipped model) join the training and
calibration parts with every attribute 0 and no spans (load_calm). They are never in the held-out part.

The held-out part is a rule, not a list: a comment is held out when sha256("attributes-test:" + comment_id)
falls in the first 20% of the hash space. Comments in data/real/labels.csv's `sealed` split are left out of
everything (training and evaluation), and those in its `dev` split are never trained on, so the comparison
with /v1/predict there is fair.
"""

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from model.attributes import ATTRIBUTES

from .public import PublicDataError
from .realdata import load_real, read_labels, row_key

FOLDER = "civil_comments_toxic_spans"
DATASET = "civil_comments_toxic_spans"
TEST_SHARE = 0.20
CALIBRATION_SHARE = 0.20  # of the training part: Platt scaling and span thresholds are chosen there
# spans.csv type -> attribute. Two rows carry truncated names ("Insu", "Identity based"): read by prefix.
_TYPES = (("Insult", "INSULT"), ("Identity", "IDENTITY_ATTACK"), ("Profane", "PROFANITY"), ("Threat", "THREAT"))
SPAN_TYPES = tuple(a for _, a in _TYPES)


@dataclass(frozen=True)
class SpanComment:
    comment_id: str
    text: str
    targets: dict[str, float]  # attribute -> share of annotators (SEVERE_TOXICITY: 0 or 1)
    gold: frozenset[int]  # character offsets a majority marked, any type
    gold_by_type: dict[str, frozenset[int]]  # SPAN_TYPES -> offsets a majority marked with that type
    part: str  # "train" | "calibration" | "test" | "dev" (real dev: never trained on) ; sealed ones are dropped
    calm: bool = False  # one of load_calm's real comments, not of this set


def _share(key: str, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000


def part_of(comment_id: str, sealed: set[str], dev: set[str]) -> str | None:
    """Where a comment goes: None (sealed, unused), "test", "dev", "calibration" or "train"."""
    key = row_key(DATASET, comment_id)
    if key in sealed:
        return None
    if _share(comment_id, "attributes-test") < TEST_SHARE:
        return "test"
    if key in dev:
        return "dev"
    return "calibration" if _share(comment_id, "attributes-calibration") < CALIBRATION_SHARE else "train"


def _type_of(raw: str) -> str | None:
    for prefix, attribute in _TYPES:
        if raw.startswith(prefix):
            return attribute
    return None  # "Other Toxicity"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise PublicDataError(f"{path} not found; expected the layout described in {path.parent}/SOURCE.txt")
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _majority(marks: list[set[int]]) -> frozenset[int]:
    counts: dict[int, int] = defaultdict(int)
    for m in marks:
        for i in m:
            counts[i] += 1
    return frozenset(i for i, n in counts.items() if n * 2 > len(marks))


Marks = dict[str, list[tuple[str | None, int, int]]]  # annotation -> (attribute or None, start, end)


def read_set(
    public: Path, labels_file: Path | None = None
) -> tuple[list[tuple[str, str, str | None]], dict[str, list[dict[str, str]]], Marks]:
    """The set's three files joined: for each comment (id, text, its part by part_of), its annotators' rows, and
    every annotation's typed character marks. Sealed comments come with part None."""
    base = Path(public) / FOLDER
    real = read_labels(labels_file) if labels_file else read_labels()
    sealed = {r.key for r in real if r.dataset == DATASET and r.split == "sealed"}
    dev = {r.key for r in real if r.dataset == DATASET and r.split == "dev"}
    spans: Marks = defaultdict(list)
    for r in _rows(base / "spans.csv"):
        spans[r["annotation"]].append((_type_of(r["type"]), int(r["start"]), int(r["end"])))
    annotators: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _rows(base / "annotations.csv"):
        annotators[r["comment_id"]].append(r)
    rows = _rows(base / "comments.csv")
    return (
        [(r["comment_id"], r["comment_text"], part_of(r["comment_id"], sealed, dev)) for r in rows],
        annotators,
        spans,
    )


def load_toxic_spans(public: Path, labels_file: Path | None = None) -> list[SpanComment]:
    comments, annotators, spans = read_set(public, labels_file)
    out = []
    for cid, text, part in comments:
        notes = annotators.get(cid, [])
        if part is None or not notes:
            continue
        out.append(_comment(cid, text, notes, spans, part))
    return out


def _comment(cid: str, text: str, notes: list[dict[str, str]], spans: dict, part: str) -> SpanComment:
    n = len(notes)
    toxic, severe_votes = 0, 0
    typed = dict.fromkeys(SPAN_TYPES, 0)
    marks: list[set[int]] = []
    marks_by_type: dict[str, list[set[int]]] = {t: [] for t in SPAN_TYPES}
    for a in notes:
        own = spans.get(a["annotation"], [])
        is_toxic = a["not toxic"] != "True"
        whole = is_toxic and a["all toxic"] == "True"
        toxic += is_toxic
        chars: set[int] = set(range(len(text))) if whole and not own else set()
        per_type: dict[str, set[int]] = {t: set() for t in SPAN_TYPES}
        for kind, start, end in own:
            chars.update(range(max(0, start), min(len(text), end)))
            if kind:
                per_type[kind].update(range(max(0, start), min(len(text), end)))
        for t in SPAN_TYPES:
            typed[t] += bool(per_type[t])
            marks_by_type[t].append(per_type[t])
        marks.append(chars)
        kinds = {k for k, _, _ in own}
        severe_votes += whole or len(kinds) >= 2
    targets = {t: typed[t] / n for t in SPAN_TYPES}
    targets["TOXICITY"] = toxic / n
    targets["SEVERE_TOXICITY"] = float(toxic == n and severe_votes * 2 >= n)
    assert set(targets) == set(ATTRIBUTES)
    gold_by_type = {t: _majority(marks_by_type[t]) for t in SPAN_TYPES}
    return SpanComment(cid, text, targets, _majority(marks), gold_by_type, part)


# Sets whose calm comments are not used: this one (its own annotators decide), and SFU (non-commercial licence).
CALM_EXCLUDED = (DATASET, "sfu_ctc")


def load_calm(public: Path, labels_file: Path | None = None) -> list[SpanComment]:
    """Real comments labelled substantive or spam (train split only), as comments with no attribute and no span."""
    real = (
        load_real(Path(public), labels_file, exclude=CALM_EXCLUDED)
        if labels_file
        else load_real(Path(public), exclude=CALM_EXCLUDED)
    )
    real = real.where(("train",))
    zero = dict.fromkeys(ATTRIBUTES, 0.0)
    out = []
    for c, label in zip(real.comments, real.labels, strict=True):
        if label == "toxic":
            continue
        cid = f"real:{c.dataset}:{c.key}"
        part = "calibration" if _share(cid, "attributes-calibration") < CALIBRATION_SHARE else "train"
        out.append(SpanComment(cid, c.text, zero, frozenset(), {t: frozenset() for t in SPAN_TYPES}, part, calm=True))
    return out
