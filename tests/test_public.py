"""The public dataset readers return what each SOURCE.txt documents; the public recipe records provenance."""

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from model.embeddings import Embedder
from training.public import (
    LICENCES,
    PublicDataError,
    PublicSet,
    capped,
    fit_detectors,
    load_davidson,
    load_olid,
    load_public,
    load_sfu,
    load_tweeteval_hate,
    load_wiki_toxicity,
    load_youtube_spam,
)

from .conftest import PUBLIC, TINY, require_shared

pytestmark = pytest.mark.public


@pytest.fixture(scope="module")
def public() -> Path:
    return require_shared(PUBLIC)


def by_name(sets: list[PublicSet]) -> dict[str, PublicSet]:
    return {s.name: s for s in sets}


def positives(s: PublicSet) -> tuple[int, int]:
    return len(s.texts), sum(s.labels)


def test_youtube_spam_drops_leaky_columns_and_duplicates(public: Path) -> None:
    (spam,) = load_youtube_spam(public)
    assert spam.kind == "spam" and set(spam.labels) == {0, 1}
    assert len(spam.texts) == len(set(spam.texts)), "duplicate texts must be dropped"
    assert 1700 < len(spam.texts) < 1956  # 1,956 rows, about 200 of them repeated texts
    assert not any("\ufeff" in t or "&#39;" in t or "<br" in t for t in spam.texts)
    assert Counter(spam.groups).keys() == {f"Youtube0{i}-{v}" for i, v in enumerate(VIDEOS, 1)}


VIDEOS = ("Psy", "KatyPerry", "LMFAO", "Eminem", "Shakira")


def test_olid_official_train_and_test(public: Path) -> None:
    sets = by_name(load_olid(public))
    assert positives(sets["olid/toxic/train"]) == (13240, 4400)
    assert positives(sets["olid/toxic/test"]) == (860, 240)
    assert all(t.strip() for t in sets["olid/toxic/test"].texts)


def test_sfu_constructive_and_toxic_with_titles(public: Path) -> None:
    sets = by_name(load_sfu(public))
    assert positives(sets["sfu_ctc/constructive/all"]) == (1120, 603)  # the one not_sure row dropped
    assert positives(sets["sfu_ctc/toxic/all"]) == (1121, 177 + 35 + 7)  # popular answer >= 2
    assert all(sets["sfu_ctc/toxic/all"].titles)


def test_davidson_tweeteval_and_wiki_counts(public: Path) -> None:
    (davidson,) = load_davidson(public)
    assert positives(davidson) == (24783, 1430 + 19190)
    assert not any("&amp;" in t for t in davidson.texts)
    tweeteval = by_name(load_tweeteval_hate(public))
    assert positives(tweeteval["tweeteval_hate/toxic/train"]) == (10000, 3783 + 427)
    test = tweeteval["tweeteval_hate/toxic/test"]
    assert 2600 < len(test.texts) < 2970, "test tweets also in train/val are dropped"
    assert not set(test.texts) & set(tweeteval["tweeteval_hate/toxic/train"].texts)
    (wiki,) = load_wiki_toxicity(public)
    assert positives(wiki) == (1492, 248)


def test_load_public_errors_name_the_problem(public: Path, tmp_path: Path) -> None:
    with pytest.raises(PublicDataError, match=re.escape(f"{tmp_path / 'nope'} does not exist")):
        load_public(tmp_path / "nope")
    with pytest.raises(PublicDataError, match="unknown public dataset"):
        load_public(public, exclude=("imdb",))
    with pytest.raises(PublicDataError, match="holds none of the public datasets"):
        load_public(tmp_path)
    names = {s.dataset for s in load_public(public, exclude=("davidson_hate_offensive",))}
    assert names == set(LICENCES) - {"davidson_hate_offensive"}


def test_capped_is_seeded_and_keeps_rows_aligned(public: Path) -> None:
    (spam,) = load_youtube_spam(public)
    a, b = capped(spam, 100), capped(spam, 100)
    assert a.texts == b.texts and len(a.texts) == 100
    index = {t: y for t, y in zip(spam.texts, spam.labels, strict=True)}
    assert all(index[t] == y for t, y in zip(a.texts, a.labels, strict=True))


@pytest.mark.slow  # fits the detectors on the public datasets
def test_detectors_train_per_question_and_record_licences(public: Path) -> None:
    detectors, provenance = fit_detectors(public, Embedder(), exclude=("olid",), max_rows=120)
    assert detectors.kinds_ == ("toxic", "spam", "constructive")
    assert {p["dataset"] for p in provenance} == set(LICENCES) - {"olid"}
    assert all(p["licence"] == LICENCES[p["dataset"]] for p in provenance)
    scores = detectors.decision(["check out my channel and subscribe!!! http://x.co", "you stupid pathetic idiot"])
    assert scores.shape == (2, 3)
    spam_col, toxic_col = detectors.kinds_.index("spam"), detectors.kinds_.index("toxic")
    assert scores[0, spam_col] > scores[1, spam_col]
    assert scores[1, toxic_col] > scores[0, toxic_col]


@pytest.mark.slow  # trains a model on the public datasets
def test_public_recipe_artifact_names_its_datasets(public: Path, tmp_path: Path) -> None:
    from model import load_model
    from training.config import TrainConfig
    from training.fit import train

    config = TrainConfig(real="", data=[str(TINY)], out=str(tmp_path), calibration_folds=3, public=str(public))
    path = train(config.updated({"public_max_rows": 100}))
    loaded = load_model(path)
    meta = loaded.metadata
    assert "public" in meta["features"]
    assert {s["dataset"] for s in meta["public_data"]["sets"]} == set(LICENCES)
    assert all(s["licence"] for s in meta["public_data"]["sets"])
    proba = loaded.estimator.predict_proba(["buy cheap followers at http://spam.example"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (path / "model.json").is_file() and not (path / "model.joblib").exists()  # portable, no pickle


@pytest.mark.slow  # fits the detectors on the public datasets
def test_the_public_block_scores_the_same_exported(public: Path, tmp_path: Path) -> None:
    """The detectors written as arrays give the logits scikit-learn gives, and the model the same scores."""
    from model.classifier import CommentClassifier
    from model.portable import export, load
    from training.data import load_labelled

    detectors, _ = fit_detectors(public, Embedder(), max_rows=150)
    data = load_labelled([str(TINY)])
    features = ("word", "char", "signals", "public")
    estimator = CommentClassifier(
        features=features, calibration_folds=3, embedder=detectors.embedder, auxiliary=detectors
    )
    estimator.fit(data.comments(), data.labels())
    portable = load(export(estimator, {"name": "public-test"}, tmp_path / "model"))
    texts = ["check out my channel and subscribe!!! http://x.co", "you stupid pathetic idiot", "The vote was 5-2.", ""]
    block = next(b for b in portable.blocks_ if b.name == "public")
    np.testing.assert_allclose(block.transform([], texts), detectors.decision(texts), rtol=0, atol=1e-6)
    np.testing.assert_allclose(portable.predict_proba(texts), estimator.predict_proba(texts), rtol=0, atol=1e-6)
