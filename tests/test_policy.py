"""The policy file: thresholds give the documented actions, shadow mode, per-site overrides, copy-paste."""

import re

import pytest

from model.policy import APPROVE, DEFAULT_POLICY_FILE, HOLD, REJECT, PolicyError, load_policy, parse_policy

SITES = {
    "version": "v7",
    "thresholds": {"spam": {"hold": 0.6, "reject": 0.9}, "toxic": {"hold": 0.5, "reject": 0.9}},
    "sites": {
        "strict.example": {"thresholds": {"toxic": {"hold": 0.2}}},
        "watching.example": {"shadow": True, "copypaste": {"hold_at": 0}},
    },
}


def scores(spam: float = 0.0, toxic: float = 0.0) -> dict[str, float]:
    return {"spam": spam, "toxic": toxic, "substantive": max(0.0, 1 - spam - toxic)}


@pytest.mark.parametrize(
    ("given", "action", "reason"),
    [
        (scores(spam=0.95), REJECT, "spam score 0.95 >= reject threshold 0.92"),
        (scores(spam=0.92), REJECT, "spam score 0.92 >= reject threshold 0.92"),
        (scores(spam=0.70), HOLD, "spam score 0.70 >= hold threshold 0.60"),
        (scores(toxic=0.50), HOLD, "toxic score 0.50 >= hold threshold 0.50"),
        (scores(toxic=0.96), REJECT, "toxic score 0.96 >= reject threshold 0.96"),
        (scores(toxic=0.95), HOLD, "toxic score 0.95 >= hold threshold 0.50"),
        (scores(spam=0.59, toxic=0.49), APPROVE, "no label reached a hold threshold"),
    ],
)
def test_default_policy_thresholds(given, action, reason):
    decision = load_policy(DEFAULT_POLICY_FILE).decide(given)
    assert (decision.action, decision.decided) == (action, action)
    assert reason in decision.reasons and not decision.shadow


def test_reject_wins_over_hold_and_names_the_labels():
    decision = load_policy().decide(scores(spam=0.7, toxic=0.97))
    assert decision.action == REJECT and decision.labels == ("toxic",)
    assert all("reject" in r for r in decision.reasons)


def test_shadow_reports_approve_but_keeps_the_decision():
    policy = parse_policy({**SITES, "shadow": True, "sites": {}})
    decision = policy.decide(scores(toxic=0.95))
    assert decision.action == APPROVE and decision.decided == REJECT and decision.shadow
    assert any("shadow mode: would reject" in r for r in decision.reasons)


def test_site_policy_overrides_and_inherits():
    policy = parse_policy(SITES)
    assert policy.decide(scores(toxic=0.3)).action == APPROVE
    strict = policy.decide(scores(toxic=0.3), "strict.example")
    assert strict.action == HOLD and "toxic score 0.30 >= hold threshold 0.20" in strict.reasons
    # Inherited: strict.example did not set spam, nor toxic.reject.
    assert policy.decide(scores(spam=0.95), "strict.example").action == REJECT
    assert policy.decide(scores(toxic=0.95), "strict.example").action == REJECT
    watching = policy.decide(scores(toxic=0.95), "watching.example")
    assert (watching.action, watching.decided) == (APPROVE, REJECT)
    assert policy.decide(scores(toxic=0.3), "unknown.example").action == APPROVE  # falls back to the default


def test_copy_paste_holds_from_the_third_paste():
    policy = load_policy()
    harmless = scores(spam=0.1)
    assert policy.decide(harmless, near_duplicates=1).action == APPROVE
    held = policy.decide(harmless, near_duplicates=2)
    assert held.action == HOLD and held.labels == ("spam",)
    assert held.reasons == ["near-duplicate of 2 earlier comments under other articles (hold at 2)"]
    # Already rejected: stays rejected, the repetition is added to the reasons.
    rejected = policy.decide(scores(spam=0.95), near_duplicates=5)
    assert rejected.action == REJECT and any("near-duplicate of 5" in r for r in rejected.reasons)
    # A site can turn the rule off.
    assert parse_policy(SITES).decide(harmless, "watching.example", near_duplicates=9).decided == APPROVE


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**SITES, "copypaste": {"hold_at": -1}}, "copypaste.hold_at must be an integer >= 0"),
        ({**SITES, "copypaste": {"hold": 2}}, "[copypaste] takes only `hold_at`"),
        ({**SITES, "thresholds": {"toxic": {"hold": 0.9, "reject": 0.5}}}, "thresholds.toxic.hold (0.9) is above"),
        ({**SITES, "thresholds": {"Insult!": {"hold": 0.5, "reject": 0.9}}}, "thresholds for 'Insult!'"),
        ({**SITES, "thresholds": {"substantive": {"hold": 0.5, "reject": 0.9}}}, "thresholds for 'substantive'"),
        ({**SITES, "shadw": True}, "unknown key(s) ['shadw']"),
    ],
)
def test_bad_policy_names_the_key(raw, message):
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(raw, "p.toml")


def test_missing_policy_file_says_so(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_simhash_is_pinned_so_stored_fingerprints_keep_matching() -> None:
    """Fingerprints are stored in the database; a changed hash would silently stop matching old ones."""
    from serve.copypaste import simhash

    text = "Very informative post. Looking forward to more content like this from your team."
    assert simhash(text) == 12698631595639104499
    assert simhash("Thanks, great read!") is None, "too short to fingerprint"


def test_thresholds_for_a_label_the_model_lacks_are_refused_not_ignored():
    policy = parse_policy({**SITES, "sites": {"a.example": {"thresholds": {"offtopic": {"hold": 0.5, "reject": 0.9}}}}})
    assert policy.threshold_labels() == {"spam", "toxic", "offtopic"}
    policy.check_labels(["spam", "toxic", "substantive", "offtopic"])  # a model with that label: accepted
    with pytest.raises(PolicyError, match=re.escape("site.toml (version 'v7') has thresholds for ['offtopic']")):
        policy.check_labels(["spam", "toxic", "substantive"], "model m1", "site.toml")
