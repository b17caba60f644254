"""bench/real.py's agreement table: one labelling pass scored against the other, as the model would be."""

import sys

import pytest

from training.realdata import RealLabel

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from real import agreement  # noqa: E402


def rows(pairs: list[tuple[str, str]]) -> list[RealLabel]:
    return [RealLabel("olid", str(i), "dev", a, b, "" if a == b else b) for i, (a, b) in enumerate(pairs)]


def test_passes_that_agree_score_like_a_perfect_model() -> None:
    found = agreement(rows([("spam", "spam"), ("toxic", "toxic"), ("substantive", "substantive")] * 3))
    assert found["passes_agree"] == 1.0 and found["pass_macro_f1"] == 1.0
    assert found["pass_civil_called_toxic"] == 0.0 and found["third_readings"] == 0


def test_one_pass_calling_civil_comments_toxic_is_counted_against_the_other() -> None:
    # Pass b says civil (spam or substantive) four times; pass a calls one of those toxic.
    found = agreement(
        rows(
            [
                ("toxic", "substantive"),
                ("substantive", "substantive"),
                ("spam", "spam"),
                ("spam", "spam"),
                ("toxic", "toxic"),
            ]
        )
    )
    assert found["pass_civil_called_toxic"] == 0.25
    # F1 per label, pass b as truth: spam 1.0, toxic 2/3, substantive 2/3.
    assert found["pass_macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3, abs=1e-4)
    assert found["third_readings"] == 1


def test_a_source_whose_second_pass_is_all_toxic_has_no_civil_rate() -> None:
    found = agreement(rows([("toxic", "toxic"), ("substantive", "toxic")]))
    assert found["pass_civil_called_toxic"] is None
    assert agreement([])["n_both_passes"] == 0
