"""Which characters made a comment toxic, per attribute: word-level scores turned into character spans.

Each word of the ORIGINAL text (a run of non-space characters, edge punctuation trimmed) gets features: how often
that word fell inside annotators' toxic spans in training (a smoothed log-odds table, per span type), its
neighbours' table values, its word-list categories (model/lexicon.py), and the comment-level probabilities of
the attribute heads. A logistic layer per output turns them into a word score; words at or above the output's
threshold become spans, and neighbours separated only by white space merge into one span, as annotators mark
"stupid idiot" as one stretch.

A gate per output decides first whether the comment gets spans at all: in the Toxic Spans set two comments in
five have no span a majority of annotators agreed on, and there marking nothing is what scores. It is a second
logistic layer over the comment's highest word scores and the heads' scores.

Offsets index the text exactly as the client sent it. Words are cut from the original text and only each word
is normalised (model/normalize.py: zero-width characters, look-alike letters, leetspeak) to look it up, so no
offset mapping back from normalised text is needed. Offsets count Unicode code points (Python str indices).
"""

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .lexicon import lexicon_counts, stems
from .normalize import normalize


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow warnings


# What has spans: TOXICITY (any type, the SemEval-2021 Task 5 target) and the four typed attributes.
SPAN_OUTPUTS: tuple[str, ...] = ("TOXICITY", "INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK")
# Word-list categories that are word features.
CATEGORIES = ("insults", "profanity", "dehumanising", "slurs", "threat_verbs", "masked_hits")
FEATURES: tuple[str, ...] = (
    "table",
    "support",
    "left",
    "right",
    *CATEGORIES,
    "comment_output",
    "comment_toxicity",
    "table_x_comment",
    "all_caps",
    "log_words",
)
_WORD = re.compile(r"\S+")
# Kept at a word's end: masks ("f***", "a$$").
_MASK_END = "*$"
# What the gate reads, per output.
GATE_FEATURES: tuple[str, ...] = ("max_word", "top2_words", "comment_output", "comment_toxicity", "log_words")
# Per output, what summarise() gives the attribute heads: the highest table value, the mean of the top three.
SUMMARY = ("max", "top3")
MAX_REMEMBERED = 200_000  # words whose table row a model remembers
# Words longer than this are not looked up (a URL, a run of emoji); they still get the other features.
MAX_WORD_CHARS = 40


@dataclass(frozen=True)
class Word:
    begin: int
    end: int
    key: str  # normalised, lower-cased: what the table is looked up by


def words(text: str) -> list[Word]:
    """The words of `text` with their offsets in `text`; edge punctuation is not part of a word."""
    out = []
    for m in _WORD.finditer(text):
        begin, end = m.start(), m.end()
        while begin < end and not text[begin].isalnum():
            begin += 1
        while end > begin and not (_in_word(text[end - 1]) or text[end - 1] in _MASK_END):
            end -= 1
        if begin < end:
            out.append(Word(begin, end, word_key(text[begin:end])))
    return out


def _in_word(c: str) -> bool:
    # Letters and digits, and combining marks, so that "Cafe\u0301" keeps its accent.
    return c.isalnum() or unicodedata.category(c).startswith("M")


# Remembered per word, as model/lexicon.py does: words repeat (Zipf), and normalising and matching each word
# again made a long comment's spans cost more than its scoring.
@lru_cache(maxsize=65_536)
def word_key(raw: str) -> str:
    if len(raw) > MAX_WORD_CHARS:
        return ""
    norm = normalize(raw).lower().replace("\u2019", "'")
    return "".join(c for c in norm if c.isalnum() or c in "*$'")


@dataclass(frozen=True)
class SpanModel:
    vocab: np.ndarray  # (V,) words, sorted
    table: np.ndarray  # (V, o) smoothed log-odds that the word is inside a gold span of each output
    support: np.ndarray  # (V,) times the word was seen in training
    prior: np.ndarray  # (o,) the log-odds of a word never seen
    coef: np.ndarray  # (o, len(FEATURES))
    intercept: np.ndarray  # (o,)
    threshold: np.ndarray  # (o,) word score at or above which the word is in a span
    gate_coef: np.ndarray  # (o, len(GATE_FEATURES))
    gate_intercept: np.ndarray  # (o,)
    gate_threshold: np.ndarray  # (o,) gate probability under which the comment gets no span of that output
    outputs: tuple[str, ...] = SPAN_OUTPUTS
    # word -> its row in `vocab` (-1: unseen), remembered; not part of the model.
    _rows: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def check(self) -> None:
        v, o, f = len(self.vocab), len(self.outputs), len(FEATURES)
        expected = {
            "table": (v, o),
            "support": (v,),
            "prior": (o,),
            "coef": (o, f),
            "intercept": (o,),
            "threshold": (o,),
            "gate_coef": (o, len(GATE_FEATURES)),
            "gate_intercept": (o,),
            "gate_threshold": (o,),
        }
        for name, shape in expected.items():
            found = getattr(self, name).shape
            if found != shape:
                raise ValueError(f"span model: {name} has shape {found}, expected {shape}")

    def _lookup(self, key: str) -> int:
        found = self._rows.get(key)
        if found is None:
            found = -1
            for candidate in dict.fromkeys([key, *stems(key, verb=False)]):
                i = int(np.searchsorted(self.vocab, candidate))
                if i < len(self.vocab) and self.vocab[i] == candidate:
                    found = i
                    break
            if len(self._rows) < MAX_REMEMBERED:
                self._rows[key] = found
        return found

    def table_values(self, found: Sequence[Word]) -> tuple[np.ndarray, np.ndarray]:
        """(n_words, o) table log-odds (the prior for unseen words) and (n_words,) support of `found`."""
        rows = np.array([self._lookup(w.key) for w in found], dtype=int).reshape(-1)
        known = rows >= 0
        table = np.where(known[:, None], self.table[np.maximum(rows, 0)], self.prior[None, :])
        return table, np.where(known, self.support[np.maximum(rows, 0)], 0.0)

    def summarise(self, text: str, found: Sequence[Word] | None = None) -> np.ndarray:
        """(len(outputs) * len(SUMMARY),) what the words of `text` (`found`: words(text), when known) say per
        output, for the attribute heads."""
        table, _ = self.table_values(words(text) if found is None else found)
        if not len(table):
            table = self.prior[None, :]
        top = -np.sort(-table, axis=0)[:3]
        return np.concatenate([top[0], top.mean(axis=0)])

    def features(
        self, text: str, comment: Mapping[str, float], found: Sequence[Word] | None = None
    ) -> tuple[Sequence[Word], np.ndarray]:
        """The words of `text` and their (n_words, o, len(FEATURES)) features; `comment`: the heads' scores."""
        found = words(text) if found is None else found
        n, o = len(found), len(self.outputs)
        x = np.zeros((n, o, len(FEATURES)))
        if not n:
            return found, x
        table, support = self.table_values(found)
        x[:, :, 0] = table
        x[:, :, 1] = np.log1p(support)[:, None] / 5.0
        x[1:, :, 2] = table[:-1]
        x[:-1, :, 3] = table[1:]
        x[0, :, 2] = x[-1, :, 3] = self.prior
        for i, w in enumerate(found):
            x[i, :, 4 : 4 + len(CATEGORIES)] = categories(w.key)
            raw = text[w.begin : w.end]
            x[i, :, 4 + len(CATEGORIES) + 3] = float(len(raw) > 1 and raw.isupper())
        base = 4 + len(CATEGORIES)
        toxicity = float(comment.get("TOXICITY", 0.0))
        for k, name in enumerate(self.outputs):
            x[:, k, base] = float(comment.get(name, toxicity))
        x[:, :, base + 1] = toxicity
        x[:, :, base + 2] = table * x[:, :, base]
        x[:, :, base + 4] = math.log1p(n) / 5.0
        return found, x

    def word_scores(
        self, text: str, comment: Mapping[str, float], found: Sequence[Word] | None = None
    ) -> tuple[Sequence[Word], np.ndarray]:
        """The words and their (n_words, o) probabilities of being inside a span of each output."""
        found, x = self.features(text, comment, found)
        return found, sigmoid(np.einsum("nof,of->no", x, self.coef) + self.intercept)

    def gate_inputs(self, scores: np.ndarray, comment: Mapping[str, float]) -> np.ndarray:
        """(o, len(GATE_FEATURES)) for one comment from its (n_words, o) word scores and the heads' scores."""
        n, o = scores.shape[0], len(self.outputs)
        top = -np.sort(-scores, axis=0)[:2] if n else np.zeros((1, o))
        toxicity = float(comment.get("TOXICITY", 0.0))
        own = np.array([float(comment.get(name, toxicity)) for name in self.outputs])
        return np.stack([top[0], top.mean(axis=0), own, np.full(o, toxicity), np.full(o, math.log1p(n) / 5.0)], axis=1)

    def gate(self, scores: np.ndarray, comment: Mapping[str, float]) -> np.ndarray:
        """(o,) probability that the comment has a span of each output at all."""
        return sigmoid(np.einsum("og,og->o", self.gate_inputs(scores, comment), self.gate_coef) + self.gate_intercept)

    def spans(
        self, text: str, comment: Mapping[str, float], found: Sequence[Word] | None = None
    ) -> dict[str, list[tuple[int, int, float]]]:
        """Output -> [(begin, end, score)] over `text`, score being the highest word score inside the span."""
        found, scores = self.word_scores(text, comment, found)
        opened = self.gate(scores, comment) >= self.gate_threshold
        return {
            name: merge(text, found, scores[:, k], float(self.threshold[k])) if opened[k] else []
            for k, name in enumerate(self.outputs)
        }


@lru_cache(maxsize=65_536)
def categories(key: str) -> tuple[float, ...]:
    """1.0 per CATEGORIES list the word belongs to (model/lexicon.py), else 0.0."""
    counts = lexicon_counts(key) if key else {}
    return tuple(float(min(counts.get(name, 0), 1)) for name in CATEGORIES)


def merge(text: str, found: Sequence[Word], scores: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Words scoring >= threshold as spans; neighbours with only white space between them become one span."""
    out: list[tuple[int, int, float]] = []
    for w, s in zip(found, scores, strict=True):
        if s < threshold:
            continue
        if out and text[out[-1][1] : w.begin].isspace():
            begin, _, best = out[-1]
            out[-1] = (begin, w.end, max(best, float(s)))
        else:
            out.append((w.begin, w.end, float(s)))
    return out


def offsets(spans: Sequence[tuple[int, int, float]]) -> set[int]:
    return {i for begin, end, _ in spans for i in range(begin, end)}
