"""Perspective API (commentanalyzer v1alpha1) request bodies, and the mapping of its attributes to our labels.

Field names are Perspective's (camelCase). Unknown fields are ignored, as a Perspective client may send
ones we have no use for (`sessionId`, `communityId` on analyze, `comment.type`). Limits are the service's own.
"""

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .schemas import MAX_BODY_CHARS, MAX_TEXT_CHARS, AnyId

# Attribute -> (our label, whether the value is 1 - that label's score). Calibrated probabilities either way.
ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "TOXICITY": ("toxic", False),
    "SPAM": ("spam", False),
    "UNSUBSTANTIAL": ("substantive", True),
}
# Perspective's attributes that a model answers when its directory has attributes/ (model/attributes.py); the
# error for a model without them says so.
TRAINED = ("SEVERE_TOXICITY", "INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK")
# Perspective's production attributes no model here scores (no labelled data for them).
NOT_HERE = ("SEXUALLY_EXPLICIT", "FLIRTATION")
# Attribute -> the span output (model/spans.py) its spanScores come from. SEVERE_TOXICITY has no typed spans
# in the data: it points at the toxic words. SPAM and UNSUBSTANTIAL are about the whole comment: no spans.
SPANS_OF = {
    "TOXICITY": "TOXICITY",
    "SEVERE_TOXICITY": "TOXICITY",
    "INSULT": "INSULT",
    "PROFANITY": "PROFANITY",
    "THREAT": "THREAT",
    "IDENTITY_ATTACK": "IDENTITY_ATTACK",
}
# The model is trained on English comments. Perspective accepts ISO 639-1 and BCP-47 codes: "en-US" is English.
LANGUAGE = "en"
_ENGLISH = re.compile(r"en(?:[-_][A-Za-z0-9]{1,8})*", re.IGNORECASE)
MAX_CONTEXT_ENTRIES = 8
MAX_ATTRIBUTES = 16


def is_english(code: str) -> bool:
    return _ENGLISH.fullmatch(code.strip()) is not None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextEntry(_Lenient):
    text: str = Field(..., max_length=MAX_TEXT_CHARS)


class ContextEntry(_Lenient):
    text: str = Field("", max_length=MAX_BODY_CHARS)


class Context(_Lenient):
    entries: list[ContextEntry] = Field(default_factory=list, max_length=MAX_CONTEXT_ENTRIES)


class AttributeParameters(_Lenient):
    scoreType: str | None = None
    scoreThreshold: float | None = Field(None, ge=0.0, le=1.0)


Languages = Annotated[list[Annotated[str, Field(max_length=35)]], Field(max_length=8)]


class AnalyzeRequest(_Lenient):
    comment: TextEntry
    requestedAttributes: dict[str, AttributeParameters] = Field(..., min_length=1, max_length=MAX_ATTRIBUTES)
    context: Context | None = None
    languages: Languages = Field(default_factory=list)
    doNotStore: bool = False
    spanAnnotations: bool = False
    dropUnsupportedAttributes: bool = False
    clientToken: str | None = Field(None, max_length=256)
    communityId: AnyId | None = None


class Score(_Lenient):
    value: float = Field(..., ge=0.0, le=1.0)


class AttributeScore(_Lenient):
    summaryScore: Score


class SuggestRequest(_Lenient):
    comment: TextEntry
    attributeScores: dict[str, AttributeScore] = Field(..., min_length=1, max_length=MAX_ATTRIBUTES)
    context: Context | None = None
    languages: Languages = Field(default_factory=list)
    clientToken: str | None = Field(None, max_length=256)
    communityId: AnyId | None = None


def article_of(context: Context | None) -> tuple[str, str]:
    """(title, body) for the model from `context.entries`: the first entry is the title (Perspective leaves the
    entries' meaning to the client; a headline first is the common use), the rest joined are the body. One
    entry only: it is the body, since a single entry is usually the article text itself."""
    texts = [e.text for e in (context.entries if context else []) if e.text.strip()]
    if len(texts) <= 1:
        return "", "".join(texts)
    return texts[0], "\n\n".join(texts[1:])
