"""Normalisation undoes the usual evasions and marks contact details."""

import pytest

from model.normalize import EMAIL_TOKEN, PHONE_TOKEN, URL_TOKEN, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Call +1 (888) 555-0143 now", f"Call {PHONE_TOKEN} now"),
        ("visit www.cheap-loans.xyz/offer today", f"visit {URL_TOKEN} today"),
        ("go to https://example.com/a?b=c", f"go to {URL_TOKEN}"),
        ("w w w . quickloan24 . site", URL_TOKEN),
        ("mail support.help247@gmail.com", f"mail {EMAIL_TOKEN}"),
        ("you f.u.c.k.i.n.g i d i o t", "you fucking idiot"),
        ("1d10t r3tard a55hole", "idiot retard asshole"),
        ("stuuuupid", "stuupid"),
        ("\u0456d\u0456\u043et", "idiot"),  # Cyrillic і and о inside a Latin word
        ("id\u200biot", "idiot"),
        ("\uff46\uff55\uff4c\uff4c width", "full width"),
        ("i🤡d🤡i🤡o🤡t", "idiot"),
    ],
)
def test_evasions_are_undone(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "covid19 and mp3 in 2025 cost $400",
        "the 3rd 10km race",
        "I a m here",
        "Привет мир",
        "the U.S. and f-55s",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert normalize(text) == text


def test_idempotent_on_tricky_samples() -> None:
    for text in ["a\u0301\u200b", "ﬁ ﬂ", "x\u202ey", "w w w . a . b", "1 2 3 4 5 6 7 8", "@@@$$$"]:
        once = normalize(text)
        assert normalize(once) == once
