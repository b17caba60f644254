"""The estimator contract: scikit-learn conventions and probabilities that sum to 1."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from model import LABELS, Comment, CommentClassifier
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
