"""The hand-written lexicon: insults and masked profanity count, civil words that contain them do not."""

import pickle

import numpy as np
import pytest

from model import CommentClassifier
from model.features import BLOCKS, LexiconBlock, normalize_all
from model.inputs import as_comments
from model.lexicon import LEXICON_NAMES, lexicon_counts, lexicon_features
from model.normalize import normalize
from training.data import load_labelled

from .conftest import TINY


def counts(text: str) -> dict[str, int]:
    return lexicon_counts(normalize(text))


def test_masked_insult_aimed_at_the_reader() -> None:
    c = counts("you're a f*cking moron")
    assert c["aimed_insults"] > 0
    assert c["masked_hits"] == 1
    assert c["profanity"] == 1 and c["insults"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "ur a m0r0n",  # leetspeak undone by normalize, "ur" aims it
        "you absolute clown",
        "@dan_k idiot",
        "Shut up, you mother****** idiot!!",
        "you are pathetic drongos",
    ],
)
def test_insults_aimed_at_someone(text: str) -> None:
    assert counts(text)["aimed_insults"] > 0


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sh!t", "profanity"),
        ("b*tches", "profanity"),
        ("r*tard", "slurs"),
        ("f***!", "profanity"),
        ("a$$", "profanity"),
    ],
)
def test_masked_spellings_match_the_lists(text: str, masked: str) -> None:
    c = counts(text)
    assert c["masked_hits"] == 1 and c[masked] == 1


def test_inflections_are_recognised() -> None:
    c = counts("idiots, morons, douches, fucking, fucked, and the stabbing")
    assert (c["insults"], c["profanity"], c["threat_verbs"]) == (3, 2, 1)


@pytest.mark.parametrize(
    "text",
    [
        "Which two council members voted against the library budget, and was the closure costed?",
        "The Scunthorpe class assessment by the therapist covered grape document analysis.",
        "Rating the spices: diving into the assassin's cocktail recipe, a classic passage from Dickens.",
        "U.S. and U.K. officials met the U.N. envoy.",
        "Got an A* in maths T_T; the snake_case names use less memory than saturated fat, so there.",
    ],
)
def test_civil_comments_count_zero(text: str) -> None:
    assert all(v == 0 for v in lexicon_features(normalize(text)))


def test_profanity_not_aimed_at_anyone() -> None:
    c = counts("this policy is a damn mess")
    assert c["profanity"] == 1
    assert c["aimed_insults"] == 0


def test_threats() -> None:
    assert counts("I hope you die")["threat_phrases"] == 1
    assert counts("I will kill you")["threat_phrases"] >= 1
    assert counts("the new bill would kill jobs in the town")["threat_phrases"] == 0


def test_features_match_names_and_share_is_a_fraction() -> None:
    values = lexicon_features(normalize("you idiot you idiot"))
    assert len(values) == len(LEXICON_NAMES)
    assert values[LEXICON_NAMES.index("insult_share")] == pytest.approx(0.5)
    assert lexicon_features("") == [0.0] * len(LEXICON_NAMES)


def test_block_inside_a_classifier() -> None:
    assert BLOCKS["lexicon"] is LexiconBlock
    tiny = load_labelled([TINY])
    features = ("word", "char", "signals", "lexicon")
    clf = CommentClassifier(features=features, calibration_folds=0).fit(tiny.comments(), tiny.labels())
    names = clf.feature_names()
    assert len(names) == len(set(names))
    assert [n for n in names if n.startswith("lexicon:")] == [f"lexicon:{n}" for n in LEXICON_NAMES]
    proba = clf.predict_proba(["you absolute clown", "Which members voted for the closure?"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The block's own columns: an insult moves them, a civil question leaves them at the fitted baseline.
    block = next(b for b in clf.blocks_ if b.name == "lexicon")
    comments = as_comments(["you absolute clown", "Which members voted for the closure?"])
    insult, civil = block.transform(comments, normalize_all(comments))
    assert insult[LEXICON_NAMES.index("aimed_insults")] > civil[LEXICON_NAMES.index("aimed_insults")]
    # A saved model is a pickle: the block must survive the round trip unchanged.
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(comments), clf.predict_proba(comments))


def test_explanations_read_lexicon_features_as_phrases() -> None:
    """A moderator reads "insult words", not "lexicon:insults"; a zero count reads as an absence."""
    from serve.explain import label_phrases

    raw = {
        "toxic": [("lexicon:insults", 0.8), ("lexicon:aimed_insults", 0.5)],
        "substantive": [("lexicon:insults", 0.3)],
    }
    toxic = label_phrases(raw, "you absolute clown")
    assert [p["phrase"] for p in toxic["toxic"]] == ["insult words", "insults aimed at someone"]
    civil = label_phrases(raw, "Which members voted for the closure?")
    assert civil["substantive"][0]["phrase"] == "no insult words"


@pytest.mark.parametrize(
    ("word", "fused"),
    [
        ("usnake", True),  # "us" + "snake", sharing the "s"
        ("eurotrash", True),
        ("chinazi", True),
        ("usage", False),
        ("rattlesnake", False),
        ("escape", False),
        ("democrat", False),
        ("conservative", False),
    ],
)
def test_a_group_fused_with_a_dehumanising_word_counts_as_dehumanising(word: str, fused: bool) -> None:
    assert (lexicon_counts(f"they are {word}")["dehumanising"] == 1) is fused
