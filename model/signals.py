"""Hand-made signals that n-grams see poorly: contact details, shouting, repetition, length."""

import math
import re
from collections import Counter

import numpy as np

from .inputs import Comment
from .normalize import EMAIL_TOKEN, PHONE_TOKEN, URL_TOKEN, canonical_chars, normalize

_WORD = re.compile(r"\w+")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")
_LETTER = re.compile(r"[^\W\d_]")

SIGNAL_NAMES: tuple[str, ...] = (
    "links",
    "emails",
    "phones",
    "caps_ratio",
    "exclamations",
    "questions",
    "char_repetition",
    "word_repetition",
    "log_chars",
    "log_words",
    "emoji_ratio",
    "non_latin_ratio",
    "digit_ratio",
    "mentions",
)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def signals(raw: str, normalized: str | None = None) -> list[float]:
    """The SIGNAL_NAMES values for one comment; `normalized`, if given, must be normalize(raw): the model's
    featurize and serve/ pass the one they have, so the text is not normalised again."""
    return _signals(raw, normalize(raw) if normalized is None else normalized)


def _signals(raw: str, norm: str) -> list[float]:
    # Evasion tricks (full-width letters, zero-width joiners, Cyrillic look-alikes) must not move the signals.
    raw = canonical_chars(raw)
    words = [w.lower() for w in _WORD.findall(norm)]
    letters = _LETTER.findall(raw)
    upper = sum(1 for c in letters if c.isupper())
    counts = Counter(words)
    chars = len(raw)
    return [
        float(norm.count(URL_TOKEN)),
        float(norm.count(EMAIL_TOKEN)),
        float(norm.count(PHONE_TOKEN)),
        # Capitals only count once there are enough letters: "OK" is not shouting.
        _ratio(upper, len(letters)) if len(letters) >= 8 else 0.0,
        float(min(raw.count("!"), 10)),
        float(min(raw.count("?"), 10)),
        _ratio(sum(len(m.group(0)) for m in re.finditer(r"(.)\1{2,}", raw)), chars),
        1.0 - _ratio(len(counts), len(words)) if len(words) >= 4 else 0.0,
        math.log1p(chars),
        math.log1p(len(words)),
        _ratio(len(_EMOJI.findall(raw)), max(len(words) + len(_EMOJI.findall(raw)), 1)),
        _ratio(sum(1 for c in letters if ord(c) > 0x24F), len(letters)),
        # Counted after normalisation: digits that spell a word ("u5n4k3") are an evasion, not a number, and
        # contact details are already counted above as their tokens.
        _ratio(sum(c.isdigit() for c in norm), len(norm)),
        float(raw.count("@") - norm.count(EMAIL_TOKEN) > 0),
    ]


def signal_matrix(comments: list[Comment], normalized: list[str]) -> np.ndarray:
    return np.array([signals(c.text, n) for c, n in zip(comments, normalized, strict=True)], dtype=np.float64)
