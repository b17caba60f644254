"""The explanation's phrases marked in the comment's text, as segments a template prints (and escapes).

No HTML is built here: a template writes each segment with autoescape, so a comment holding markup is shown
as text, whatever the phrases are.
"""

import re
from dataclasses import dataclass

# Phrases that describe a feature rather than quote the text ("contains a link"): never looked for.
_MIN_CHARS = 2


@dataclass(frozen=True)
class Segment:
    text: str
    label: str | None  # the label whose phrase this is; None: plain text


def segments(text: str, phrases: dict[str, list[str]], labels: tuple[str, ...]) -> list[Segment]:
    """`text` cut into plain and marked runs: each phrase of `labels` (in that order of precedence) found as
    whole words, any case. Overlaps go to the earlier match."""
    spans: list[tuple[int, int, str]] = []
    for label in labels:
        for phrase in phrases.get(label, []):
            phrase = phrase.strip()
            if len(phrase) < _MIN_CHARS:
                continue
            pattern = re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", re.IGNORECASE)
            spans.extend((m.start(), m.end(), label) for m in pattern.finditer(text))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[Segment] = []
    at = 0
    for start, end, label in spans:
        if start < at:
            continue  # overlaps a span already marked
        if start > at:
            out.append(Segment(text[at:start], None))
        out.append(Segment(text[start:end], label))
        at = end
    if at < len(text):
        out.append(Segment(text[at:], None))
    return out
