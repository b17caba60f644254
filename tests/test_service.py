"""Decisions through the HTTP service: actions and reasons, shadow and per-site policy, explanations,
stored articles, copy-paste detection (and its memory across a restart), audit, storage failure, metrics.

Everything real: the tiny model, a SQLite file under tmp_path, the Store and routes as shipped."""

import sqlite3

import pytest

from model.labels import LABELS
from tests.service_app import service, write_policy

PRAISE = "Great article, thanks so much for sharing this with us!"

SITES = """
version = "test-sites"
[thresholds.spam]
hold = 1.0
reject = 1.0
[thresholds.toxic]
hold = 1.0
reject = 1.0
[sites."strict.example".thresholds.spam]
hold = 0.0
reject = 0.0
[sites."watching.example"]
shadow = true
[sites."watching.example".thresholds.spam]
hold = 0.0
reject = 0.0
"""


@pytest.fixture()
def svc(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir) as client:
        yield client


def predict(client, *comments, **top):
    r = client.post("/v1/predict", json={"comments": list(comments), **top})
    assert r.status_code == 200, r.text
    return r.json()


def test_every_result_has_action_reasons_and_is_audited(svc):
    out = predict(svc, {"id": "c1", "text": "you absolute idiot"}, {"id": "c2", "text": "When does the vote happen?"})
    assert out["policy"] == {"version": "default-2", "shadow": False}
    for res in out["results"]:
        assert res["action"] in ("approve", "hold", "reject") and res["reasons"]
        assert "explanation" not in res or res["explanation"] is None
    entries = svc.get("/v1/audit/c1").json()["entries"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["model_version"] == out["model"]["version"] and entry["policy_version"] == "default-2"
    assert entry["action"] == out["results"][0]["action"] and entry["scores"] == out["results"][0]["scores"]
    assert entry["text"] is None  # store_text is off by default


def test_store_text_keeps_the_text_in_the_audit(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir, store_text=True) as client:
        predict(client, {"id": "t1", "text": "Which councillors voted for it?"})
        assert client.get("/v1/audit/t1").json()["entries"][0]["text"] == "Which councillors voted for it?"


def test_site_policy_and_shadow_mode(tmp_path, tiny_loaded, tiny_model_dir):
    policy = write_policy(tmp_path, SITES)
    with service(tmp_path, tiny_loaded, tiny_model_dir, policy_file=policy) as client:
        comment = {"id": "s1", "text": "Which councillors voted for it?"}
        assert predict(client, comment)["results"][0]["action"] == "approve"
        strict = predict(client, comment, site_id="strict.example")["results"][0]
        assert strict["action"] == "reject" and any("reject threshold 0.00" in r for r in strict["reasons"])
        watching = predict(client, {**comment, "id": "s2"}, site_id="watching.example")
        assert watching["policy"]["shadow"] is True
        res = watching["results"][0]
        assert res["action"] == "approve" and any("shadow mode: would reject" in r for r in res["reasons"])
        [entry] = client.get("/v1/audit/s2").json()["entries"]
        assert (entry["action"], entry["decided_action"], entry["shadow"]) == ("approve", "reject", True)
        assert entry["site_id"] == "watching.example"
        assert predict(client, comment, site_id="other.example")["results"][0]["action"] == "approve"


def test_explain_names_phrases_from_the_comment_and_signals(svc):
    text = "You are an idiot, buy cheap pills at http://pills.example or call 555-123-4567"
    res = predict(svc, {"text": text}, explain=True)["results"][0]
    explanation = res["explanation"]
    assert set(explanation["labels"]) == set(LABELS)
    phrases = [p for label in LABELS for p in explanation["labels"][label]]
    assert phrases and all(p["weight"] > 0 for p in phrases)
    # Word and character n-grams come back as words of this comment (or a readable signal name).
    words = set(text.lower().replace(",", " ").split())
    assert any(p["phrase"] in words or " " in p["phrase"] for p in phrases)
    assert not any(p["phrase"].startswith(("word:", "char:")) for p in phrases)
    assert explanation["signals"] == res["signals"]
    assert res["signals"]["links"] == 1 and res["signals"]["phones"] == 1
    plain = predict(svc, {"text": "When does the library close?"}, explain=True)["results"][0]
    assert plain["signals"] == {}


def test_article_id_uses_the_stored_article(tmp_path, tiny_relevance_model):
    model_dir, loaded = tiny_relevance_model
    with service(tmp_path, loaded, model_dir) as svc:
        _article_id_checks(svc)


def test_low_relevance_signal_from_a_relevance_model(tmp_path, tiny_relevance_model):
    model_dir, loaded = tiny_relevance_model
    article = {"title": "Council votes to close Elm Street library on Sundays", "body": "The council voted 5-2."}
    with service(tmp_path, loaded, model_dir) as svc:
        off = predict(svc, {"text": "Great post, thanks for sharing!"}, article=article, explain=True)["results"][0]
        on = predict(svc, {"text": "Will Elm Street library close on Sundays now?"}, article=article)["results"][0]
        assert off["signals"]["low_relevance"] < 0.15 and "low_relevance" not in on["signals"]
        phrases = {p["phrase"] for label in LABELS for p in off["explanation"]["labels"][label]}
        assert not any(p.startswith("relevance:") for p in phrases)


def _article_id_checks(svc):
    article = {"title": "Council votes to close Elm Street library", "body": "The council voted 5-2 on Tuesday."}
    assert svc.put("/v1/articles/elm-1", json=article).status_code in (200, 201)
    stored = predict(svc, {"text": "Why close it on Sundays?"}, article_id="elm-1")["results"][0]
    inline = predict(svc, {"text": "Why close it on Sundays?", "article": article})["results"][0]
    bare = predict(svc, {"text": "Why close it on Sundays?"})["results"][0]
    assert stored["scores"] == inline["scores"]
    assert stored["scores"] != bare["scores"]  # the article did reach the model
    per_comment = predict(svc, {"text": "Why close it on Sundays?", "article_id": "elm-1"})["results"][0]
    assert per_comment["scores"] == inline["scores"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"comments": [{"text": "hi there"}], "article_id": "nope"}, ["body", "article_id"]),
        ({"comments": [{"text": "a b"}, {"text": "hi", "article_id": "nope"}]}, ["body", "comments", 1, "article_id"]),
    ],
)
def test_unknown_article_id_is_422_naming_the_field(svc, body, loc):
    r = svc.post("/v1/predict", json=body)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == loc and "PUT /v1/articles" in error["msg"]
    assert "nope" not in r.text  # `loc` names the field; its value is not echoed


def test_copy_paste_fires_on_the_third_paste_under_other_articles(svc):
    results = [
        predict(svc, {"id": f"p{i}", "text": PRAISE}, article_id=None, article={"title": f"Story {i}", "url": f"u{i}"})
        for i in range(3)
    ]
    counts = [r["results"][0]["signals"].get("near_duplicates", 0) for r in results]
    assert counts == [0, 1, 2]
    third = results[2]["results"][0]
    assert third["action"] in ("hold", "reject")
    assert any("near-duplicate of 2 earlier comments" in r for r in third["reasons"])
    # Case, punctuation and invisible characters do not hide a paste.
    disguised = PRAISE.upper().replace(" ", " \u200b", 2).rstrip("!")
    fourth = predict(svc, {"text": disguised, "article": {"title": "Story 4", "url": "u4"}})["results"][0]
    assert fourth["signals"]["near_duplicates"] == 3


def test_copy_paste_ignores_distinct_comments_and_the_same_article(svc):
    texts = [
        "Will the study rooms still open during exam weeks this spring?",
        "The council spent more than that on the new roundabout signs last year.",
        "Sunday is the only day I can take my kids to the library.",
        "Who were the two councillors that voted against the closure?",
    ]
    for i, text in enumerate(texts):
        res = predict(svc, {"text": text, "article": {"title": f"Story {i}", "url": f"u{i}"}})["results"][0]
        assert "near_duplicates" not in res["signals"]
    # The same text three times under ONE article is a conversation, not a bot.
    for _ in range(3):
        res = predict(svc, {"text": PRAISE, "article_id": None, "article": {"title": "Same", "url": "same"}})
        assert "near_duplicates" not in res["results"][0]["signals"]


def test_copy_paste_index_survives_a_restart(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir) as client:
        for i in range(2):
            predict(client, {"text": PRAISE, "article": {"title": f"S{i}", "url": f"u{i}"}}, site_id="news.example")
    with service(tmp_path, tiny_loaded, tiny_model_dir) as client:  # a new app on the same database file
        res = predict(client, {"text": PRAISE, "article": {"title": "S2", "url": "u2"}}, site_id="news.example")
        assert res["results"][0]["signals"]["near_duplicates"] == 2
        assert res["results"][0]["action"] in ("hold", "reject")
        # Sites do not share an index.
        other = predict(client, {"text": PRAISE, "article": {"title": "S3", "url": "u3"}}, site_id="other.example")
        assert "near_duplicates" not in other["results"][0]["signals"]


def test_storage_failure_degrades_but_keeps_serving(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:  # a real failure: the table is gone
            db.execute("DROP TABLE audit")
        out = predict(client, {"id": "x1", "text": "When does the vote happen?"})
        assert out["results"][0]["action"] in ("approve", "hold", "reject")
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded" and "record_decisions" in ready["reason"]
        assert 'moderation_storage_errors_total{operation="record_decisions"} 1.0' in client.get("/metrics").text
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            db.execute("DROP TABLE articles")
        res = predict(client, {"text": "When does the vote happen?"}, article_id="elm-1")["results"][0]
        assert any("article 'elm-1' could not be read (storage unavailable)" in r for r in res["reasons"])


def test_model_endpoint_shows_version_metrics_features(svc):
    meta = svc.get("/v1/model").json()
    assert meta["version"] and "held_out" in meta["metrics"] and meta["features"]


def test_metrics_count_requests_predictions_and_model(svc):
    out = predict(svc, {"text": "you absolute idiot"}, {"text": "When does the vote happen?"})
    text = svc.get("/metrics").text
    assert 'moderation_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'moderation_http_request_seconds_count{route="/v1/predict"} 1.0' in text
    for res in out["results"]:
        assert f'action="{res["action"]}",label="{res["label"]}"' in text
    assert f'moderation_model_info{{name="comment-moderation",version="{out["model"]["version"]}"}} 1.0' in text
    svc.get("/no/such/path")
    assert 'route="unmatched",status="404"' in svc.get("/metrics").text


def test_stored_fingerprints_stay_bounded(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir, copypaste_index_size=100) as client:
        comments = [{"text": f"comment {i} says {i * 7919} words {i * 31} here"} for i in range(150)]
        predict(client, *comments[:120])
        store = client.app.state.store
        assert store.count_fingerprints("_default") == 100
        predict(client, *comments[120:125])  # pruned once per 10 added: 5 more wait for the next prune
        assert store.count_fingerprints("_default") == 105
        predict(client, *comments[125:130])
        assert store.count_fingerprints("_default") == 100


def test_explain_and_signals_without_article_aware_blocks(tmp_path):
    """A model of n-grams and signals only: explanations still work, low_relevance never fires."""
    from model.artifact import load_model
    from tests.conftest import TINY
    from training.config import TrainConfig
    from training.fit import train

    out = tmp_path / "models"
    train(
        TrainConfig(real="", data=[str(TINY)], out=str(out), calibration_folds=0, features=["word", "char", "signals"])
    )
    with service(tmp_path, load_model(out / "current"), out / "current") as client:
        article = {"title": "Council votes to close Elm Street library on Sundays", "body": "The vote was 5-2."}
        res = predict(client, {"text": "Great post, thanks for sharing!"}, article=article, explain=True)["results"][0]
        assert "low_relevance" not in res["signals"]
        phrases = [p["phrase"] for label in LABELS for p in res["explanation"]["labels"][label]]
        assert phrases and not any("embedding" in p or "relevance" in p for p in phrases)


@pytest.mark.parametrize(
    ("feature", "phrase"),
    [
        ("word:great post", "great post"),
        ("char:' idi'", "idiot"),
        ("char:'zzq'", "zzq"),
        ("signal:links", "no link"),
        ("signal:phones", "contains a phone number"),
        ("signal:caps_ratio", "share of capital letters"),
        ("embedding:17", "overall meaning (sentence embedding)"),
        ("relevance:sim_article", "relevance to the article"),
        ("public:toxic", "public:toxic"),
    ],
)
def test_feature_names_read_as_phrases(feature, phrase):
    from serve.explain import readable

    assert readable(feature, ["you", "idiot", "call", "me"], {"links": 0.0, "phones": 1.0}) == phrase


def _services(client):
    from types import SimpleNamespace

    from serve.routes import services_for

    return services_for(SimpleNamespace(app=client.app), client.app.state.holder.current)


def test_inline_and_batched_requests_get_the_same_answers(tmp_path, tiny_relevance_model):
    """Up to INLINE_MAX_COMMENTS comments are scored on the event loop, more through the Batcher on a thread
    (serve/predict.py): either way a comment gets the same scores, action, signals, explanation and audit."""
    from model.embeddings import set_threads
    from serve.predict import INLINE_MAX_COMMENTS

    model_dir, loaded = tiny_relevance_model
    article = {"title": "Council votes to close Elm Street library on Sundays", "body": "The council voted 5-2."}
    texts = [
        "you absolute idiot",
        "Great post, thanks for sharing!",
        "When does the Sunday closure of the Elm Street library start?",
        "CALL +1 (888) 555-0143 for printer support",
        "The 5-2 vote ignores the students who use the library on Sundays.",
    ] * 2
    assert len(texts) > INLINE_MAX_COMMENTS
    set_threads(1)  # the README's --workers setup; a machine with more cores would default to more
    try:
        _compare_paths(tmp_path, loaded, model_dir, article, texts)
    finally:
        set_threads(0)


def _compare_paths(tmp_path, loaded, model_dir, article, texts):
    from model.inputs import Comment
    from serve.predict import scores_inline

    with service(tmp_path, loaded, model_dir) as svc:
        whole = [{"id": f"w{i}", "text": t} for i, t in enumerate(texts)]
        one = [{"id": f"o{i}", "text": t} for i, t in enumerate(texts)]
        services = _services(svc)
        on_article = [Comment(c["text"], article["title"], article["body"]) for c in whole]
        assert not scores_inline(services, on_article)
        assert scores_inline(services, on_article[:1])
        # Separate sites: copy-paste memory must not make the second pass differ from the first.
        batched = predict(svc, *whole, article=article, explain=True, site_id="a")["results"]
        inline = [predict(svc, c, article=article, explain=True, site_id="b")["results"][0] for c in one]
        for b, i in zip(batched, inline, strict=True):
            assert {k: v for k, v in b.items() if k != "id"} == {k: v for k, v in i.items() if k != "id"}
        for k in range(len(texts)):
            assert svc.get(f"/v1/audit/o{k}").json()["entries"][0]["scores"] == inline[k]["scores"]


def test_with_several_embedding_threads_every_request_goes_through_the_batcher(tmp_path, tiny_relevance_model):
    """Inline scoring would put a burst of single comments on one thread; the Batcher spreads it over all."""
    from model.embeddings import set_threads
    from model.inputs import Comment
    from serve.predict import scores_inline

    model_dir, loaded = tiny_relevance_model
    one = [Comment("When does the library close?")]
    with service(tmp_path, loaded, model_dir) as svc:
        services = _services(svc)
        assert loaded.estimator.embedding_threads == 1 or not scores_inline(services, one)
        set_threads(2)
        try:
            assert loaded.estimator.embedding_threads == 2
            assert not scores_inline(services, one)
            assert predict(svc, {"text": "When does the library close?"})["results"][0]["label"]
        finally:
            set_threads(0)


@pytest.mark.parametrize(
    ("body", "reads"),
    [
        ({"comments": [{"text": "a"}]}, False),
        ({"comments": [{"text": "a"}], "article": {"title": "t", "body": "b"}}, False),
        ({"comments": [{"text": "a"}], "article_id": "art-1"}, True),
        ({"comments": [{"text": "a", "article": {"title": "t", "body": "b"}}], "article_id": "art-1"}, False),
        ({"comments": [{"text": "a"}, {"text": "b", "article_id": "art-2"}]}, True),
    ],
)
def test_requests_that_read_stored_articles_are_recognised(body, reads):
    """predict_async reads stored articles on a thread, never on the event loop: the check must not miss one."""
    from serve.predict import reads_stored_articles
    from serve.schemas import PredictRequest

    assert reads_stored_articles(PredictRequest.model_validate(body)) is reads
