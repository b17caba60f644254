"""The estimator contract: scikit-learn conventions and probabilities that sum to 1."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from model import LABELS, Comment, CommentClassifier
from model.classifier import AUTO_CS
from training.data import load_labelled

from .conftest import TINY


def check_proba(proba: np.ndarray, n: int) -> None:
    assert proba.shape == (n, len(LABELS))
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


@pytest.fixture(scope="module")
def tiny():
    return load_labelled([TINY])


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        CommentClassifier().predict_proba(["hello"])


def test_fit_predict_contract(tiny):
    clf = CommentClassifier(calibration_folds=3)
    assert clf.fit(tiny.comments(), tiny.labels(), groups=tiny.groups()) is clf
    assert list(clf.classes_) == list(LABELS)
    X = [
        "you absolute idiot",
        Comment("Which two members voted?", "Central bank holds rates", "..."),
        {"text": "nice"},
    ]
    proba = clf.predict_proba(X)
    check_proba(proba, 3)
    assert list(clf.predict(X)) == [clf.classes_[i] for i in proba.argmax(axis=1)]
    assert clf.temperature_ > 0
    assert set(clf.calibration_) == {"temperature", "oof_ece_before", "oof_ece_after"}


def test_fit_refuses_unknown_and_missing_labels(tiny):
    with pytest.raises(ValueError, match=re.escape("unknown label(s) ['ham']")):
        CommentClassifier().fit(["a", "b"], ["spam", "ham"])
    with pytest.raises(ValueError, match="no examples of"):
        CommentClassifier(calibration_folds=0).fit(["a b c", "d e f"], ["spam", "toxic"])


def test_explain_names_contributing_features(tiny):
    clf = CommentClassifier(calibration_folds=0).fit(tiny.comments(), tiny.labels())
    [explanation] = clf.explain(["call +1 (888) 555-0143 now"], top_k=3)
    assert set(explanation) == set(LABELS)
    assert explanation["spam"], "some feature must push the spam score up"
    assert all(weight > 0 for _, weight in explanation["spam"])


def test_auto_c_picks_the_lowest_cross_validated_log_loss(tiny):
    clf = CommentClassifier(C="auto", calibration_folds=3).fit(tiny.comments(), tiny.labels(), groups=tiny.groups())
    assert set(clf.c_search_) == set(AUTO_CS)
    assert min(clf.c_search_, key=clf.c_search_.get) == clf.C_
    assert clf.linear_.C == clf.C_  # the shipped regression is fitted with the chosen C
    assert len(set(clf.c_search_.values())) > 1, "the candidates must be told apart"
    check_proba(clf.predict_proba(["you absolute idiot", "Which two members voted?"]), 2)
    fixed = CommentClassifier(C=2.0, calibration_folds=3).fit(tiny.comments(), tiny.labels(), groups=tiny.groups())
    assert (fixed.C_, fixed.c_search_, fixed.linear_.C) == (2.0, {}, 2.0)


@pytest.mark.parametrize("c", ["big", 0, -1.0, True])
def test_bad_c_is_refused_naming_it(tiny, c):
    with pytest.raises(ValueError, match='C must be a positive number or "auto"'):
        CommentClassifier(C=c).fit(tiny.comments(), tiny.labels())


def test_auto_c_needs_the_calibration_folds(tiny):
    with pytest.raises(ValueError, match="calibration_folds >= 2"):
        CommentClassifier(C="auto", calibration_folds=0).fit(tiny.comments(), tiny.labels())
