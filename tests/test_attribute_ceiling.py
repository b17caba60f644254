"""bench/attribute_ceiling.py: the beta-binomial fit and the oracle it bounds the attribute figures with."""

import sys

import numpy as np

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from attribute_ceiling import beta_binomial, fit_beta, one_against_rest, oracle_auc  # noqa: E402


def test_the_fit_recovers_the_rate_distribution_votes_were_drawn_from() -> None:
    rng = np.random.default_rng(3)
    n = rng.choice([3, 7], size=6000)
    k = rng.binomial(n, rng.beta(2.0, 5.0, len(n)))
    a, b = fit_beta(k, n)
    assert abs(a / (a + b) - 2 / 7) < 0.02 and 1.4 < a < 2.8
    assert abs(sum(beta_binomial(j, 3, a, b) for j in range(4)) - 1.0) < 1e-9


def test_the_oracle_is_perfect_only_when_annotators_always_agree() -> None:
    rng = np.random.default_rng(0)
    n = np.full(2000, 3)
    agreeing = oracle_auc([(n, 0.01, 0.01)], rng)  # rates near 0 or 1: the majority is the rate
    split = oracle_auc([(n, 20.0, 20.0)], rng)  # every rate near 0.5: the majority is a coin toss
    assert agreeing > 0.98 and 0.5 < split < 0.65


def test_one_annotator_against_the_others() -> None:
    def comment(*votes: bool) -> dict:
        return {"n": len(votes), "people": [{"answers": {"INSULT": v}} for v in votes]}

    unanimous = [comment(True, True, True, True), comment(False, False, False, False)]
    assert one_against_rest(unanimous, "INSULT") == 1.0
    assert one_against_rest([comment(True, True, True)], "INSULT") is None  # 3 annotators: not counted
