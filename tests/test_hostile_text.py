"""Hostile text: evasions of a toxic comment are undone by normalisation and still score toxic."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import Comment, load_model
from model.normalize import normalize

from .conftest import SEED, require_shared

ZW = "\u200b"  # zero-width space
RLO = "\u202e"  # right-to-left override


def evasions(word: str) -> dict[str, str]:
    """The usual ways to hide `word` from a filter."""
    homoglyphs = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "i": "\u0456"})
    leet = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"})
    return {
        "zero-width": ZW.join(word),
        "bidi": RLO + word + "\u202c",
        "homoglyphs": word.translate(homoglyphs),
        "full-width": "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in word),
        "dots": ".".join(word),
        "spaces": " ".join(word),
        "leet": word[0] + word[1:].translate(leet),
        "repeats": "".join(c * 3 if i == 1 else c for i, c in enumerate(word)),
        "emoji padding": "🤡".join(word),
    }


@pytest.mark.parametrize("word", ["idiot", "usnake", "stupid", "moron"])
def test_each_evasion_normalises_to_the_plain_word(word: str) -> None:
    for name, evaded in evasions(word).items():
        got = normalize(f"you {evaded} !").lower()
        # repeated letters are capped at two, which keeps "stuupid" close to "stupid" for char n-grams
        assert got in {f"you {word} !", f"you {word[0]}{word[1] * 2}{word[2:]} !"}, (name, evaded, got)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcio013457@$ .-_*\u200b\u0456\u043e\uff46🤡wWdotcm/:+()", max_size=40))
def test_idempotent_on_evasion_alphabet(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_evasions_of_a_toxic_seed_comment_still_score_toxic(default_model_dir) -> None:
    seed = json.loads(require_shared(SEED).read_text(encoding="utf-8"))
    article = (seed["title"], "\n\n".join(seed["body"]))
    original = next(c["text"] for c in seed["comments"] if "usnake" in c["text"])
    variants = {name: original.replace("usnake", v) for name, v in evasions("usnake").items()}
    model = load_model(default_model_dir).estimator
    labels = model.predict([Comment(text, *article) for text in variants.values()])
    wrong = {name: text for (name, text), label in zip(variants.items(), labels, strict=True) if label != "toxic"}
    assert not wrong, wrong


def test_leetspeak_digits_are_not_counted_as_numbers() -> None:
    """digit_ratio reads the normalised text: "u5n4k3" is a word, not a number. (A pickle made before that change,
    which counted the raw text, is refused at load: tests/test_artifact.py.)"""
    from model.features import normalize_all
    from model.signals import SIGNAL_NAMES, signal_matrix

    comments = [Comment("They will never sell raw earth to u5n4k3"), Comment("Doors open at 19:30, tickets 25")]
    ratio = signal_matrix(comments, normalize_all(comments))[:, SIGNAL_NAMES.index("digit_ratio")]
    assert ratio[0] == 0.0 and ratio[1] > 0.1
