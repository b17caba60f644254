"""Evidence for a decision, in words a moderator reads: phrases that pushed each label up, signals that fired.

CommentClassifier.explain gives feature names ("word:great post", "char:' idi'", "signal:links",
"embedding:17"); this module turns them into phrases from the comment itself and merges what names the
same phrase. Models with or without the "relevance"/"embedding" feature blocks are both handled: a block
this module does not know is shown by its name, never dropped silently.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from model.inputs import Comment
from model.lexicon import LEXICON_NAMES, lexicon_features
from model.normalize import normalize
from model.scaling import unstandardize
from model.signals import SIGNAL_NAMES, signals


class Featurized(Protocol):
    """What an estimator's `featurize` returns (model.features.FeatureMatrix, or model.portable.Features for a
    portable model): each block's own columns by block name. Named here so that explaining imports neither
    the feature code nor scikit-learn."""

    blocks: dict[str, Any]
    normalized: list[str]
    counts: dict[str, np.ndarray]


_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Prepared:
    """What serve/ reads from one comment's text, worked out once from the normalised text the model's blocks
    read: the explanation's phrases, the fired signals and the copy-paste fingerprint all use it."""

    words: list[str]  # lower-case words of the normalised text
    signals: dict[str, float]  # SIGNAL_NAMES, raw (not standardised)
    lexicon: dict[str, float]  # LEXICON_NAMES, raw


def prepare(text: str, normalized: str | None = None, signal_row: Any = None, lexicon_row: Any = None) -> Prepared:
    """`normalized` must be normalize(text) when given, and the rows the model's own values for this comment
    (Featurized.counts): then nothing is worked out twice. What is not given is computed here."""
    norm = normalize(text) if normalized is None else normalized
    sig = signals(text, norm) if signal_row is None else [float(v) for v in signal_row]
    lex = lexicon_features(norm) if lexicon_row is None else [float(v) for v in lexicon_row]
    return Prepared(
        [w.lower() for w in _WORD.findall(norm)],
        dict(zip(SIGNAL_NAMES, sig, strict=True)),
        dict(zip(LEXICON_NAMES, lex, strict=True)),
    )


def prepare_all(comments: list[Comment], featurized: Featurized) -> list[Prepared]:
    """prepare() for each comment from what featurize already worked out."""
    sig, lex = featurized.counts.get("signals"), featurized.counts.get("lexicon")
    return [
        prepare(c.text, n, None if sig is None else sig[i], None if lex is None else lex[i])
        for i, (c, n) in enumerate(zip(comments, featurized.normalized, strict=True))
    ]


# Phrases per label in an explanation; the classifier is asked for more, since several merge into one.
TOP_PHRASES = 5
_CANDIDATES = 25
CAPS_SHOUTING = 0.7

# Count signals read differently when absent: a low standardised value pushes labels too ("no link").
_ABSENT_PHRASES = {
    "links": "no link",
    "emails": "no e-mail address",
    "phones": "no phone number",
    "mentions": "no mention of another user",
}
_SIGNAL_PHRASES = {
    "links": "contains a link",
    "emails": "contains an e-mail address",
    "phones": "contains a phone number",
    "caps_ratio": "share of capital letters",
    "exclamations": "exclamation marks",
    "questions": "question marks",
    "char_repetition": "repeated characters",
    "word_repetition": "repeated words",
    "log_chars": "length in characters",
    "log_words": "length in words",
    "emoji_ratio": "share of emoji",
    "non_latin_ratio": "share of non-Latin letters",
    "digit_ratio": "share of digits",
    "mentions": "mentions another user",
}

_LEXICON_PHRASES = {
    "insults": "insult words",
    "profanity": "swear words",
    "dehumanising": "dehumanising words",
    "slurs": "slurs",
    "threat_verbs": "threat words",
    "threat_phrases": "threatening phrases",
    "masked_hits": "masked swear words (f*ck)",
    "aimed_insults": "insults aimed at someone",
    "insult_share": "share of offensive words",
}


def readable(
    feature: str, words: list[str], raw_signals: dict[str, float], raw_lexicon: dict[str, float] | None = None
) -> str:
    """A feature name as a phrase; character n-grams become the comment's word that contains them."""
    block, _, name = feature.partition(":")
    if block == "word":
        return name
    if block == "char":
        gram = name.strip("'\"").strip().lower()
        for word in words:
            if gram and gram in word:
                return word
        return gram or name
    if block == "signal":
        if name in _ABSENT_PHRASES and not raw_signals.get(name):
            return _ABSENT_PHRASES[name]
        return _SIGNAL_PHRASES.get(name, name.replace("_", " "))
    if block == "lexicon":
        phrase = _LEXICON_PHRASES.get(name, name.replace("_", " "))
        # Standardised like the signals: a zero count pushes labels too, and then it is the absence that counts.
        if raw_lexicon is not None and not raw_lexicon.get(name):
            return f"no {phrase}"
        return phrase
    if block == "embedding":
        return "overall meaning (sentence embedding)"
    if block == "relevance":
        return "relevance to the article"
    return feature


def label_phrases(raw: dict[str, list[tuple[str, float]]], text: str | Prepared) -> dict[str, list[dict[str, Any]]]:
    """Per label, the TOP_PHRASES phrases with the largest summed contribution (all > 0)."""
    prepared = text if isinstance(text, Prepared) else prepare(text)
    out: dict[str, list[dict[str, Any]]] = {}
    for label, features in raw.items():
        merged: dict[str, float] = defaultdict(float)
        for feature, weight in features:
            merged[readable(feature, prepared.words, prepared.signals, prepared.lexicon)] += weight
        top = sorted(merged.items(), key=lambda kv: -kv[1])[:TOP_PHRASES]
        out[label] = [{"phrase": p, "weight": round(w, 4)} for p, w in top if w > 0]
    return out


def explain_labels(
    estimator: Any, comments: list[Comment], featurized: Featurized, prepared: list[Prepared]
) -> list[dict[str, list[dict[str, Any]]]]:
    raw = estimator.explain(comments, top_k=_CANDIDATES, featurized=featurized)
    return [label_phrases(r, p) for r, p in zip(raw, prepared, strict=True)]


def relevance(estimator: Any, comments: list[Comment], featurized: Featurized) -> list[float | None]:
    """Cosine similarity of each comment to its article, read from the "relevance" block's columns of the
    features the scores were computed from (estimator.featurize), so nothing is computed twice.

    None where the model has no such block or the comment has no article: no signal is better than a guess.
    """
    block = next((b for b in getattr(estimator, "blocks_", []) if getattr(b, "name", "") == "relevance"), None)
    with_article = [i for i, c in enumerate(comments) if c.has_article]
    out: list[float | None] = [None] * len(comments)
    if block is None or not with_article:
        return out
    dense = np.asarray(featurized.blocks["relevance"])[with_article]
    scaler = getattr(block, "scaler_", None)
    if scaler is not None:
        # The block standardises its features; column 0 (sim_article) back in cosine units.
        dense = unstandardize(scaler, dense)
    for row, i in enumerate(with_article):
        out[i] = round(float(dense[row, 0]), 4)
    return out


def fired_signals(
    prepared: Prepared, near_duplicates: int, relevance_score: float | None, low_relevance_below: float
) -> dict[str, Any]:
    """The signals that fired for one comment, with their values; absent keys did not fire."""
    values = prepared.signals
    fired: dict[str, Any] = {}
    for name in ("links", "emails", "phones"):
        if values[name] > 0:
            fired[name] = int(values[name])
    if values["caps_ratio"] >= CAPS_SHOUTING:
        fired["shouting"] = round(values["caps_ratio"], 2)
    if near_duplicates:
        fired["near_duplicates"] = near_duplicates
    if relevance_score is not None and relevance_score < low_relevance_below:
        fired["low_relevance"] = relevance_score
    return fired
