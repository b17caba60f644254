"""API keys and scopes: 401 without or with an unknown key (before the body is read), 403 without the scope,
feedback recorded under the key's name, health stays open."""

import hashlib
import json
import logging

import pytest

from serve.auth import AuthConfigError, KeyRing, derived_name, load_keyring
from serve.settings import Settings
from tests.service_app import service

PREDICT_KEY = "pk-0123456789abcdef-predict"
ADMIN_KEY = "ak-0123456789abcdef-admin"
ARTICLES_KEY = "ck-0123456789abcdef-articles"
FEEDBACK_KEY = "fk-0123456789abcdef-feedback"
KEYS = {
    PREDICT_KEY: ["predict"],
    ADMIN_KEY: ["predict", "admin"],
    ARTICLES_KEY: {"scopes": ["articles"], "name": "cms"},
    FEEDBACK_KEY: {"scopes": ["feedback"], "name": "desk-1"},
}
COMMENT = {"comments": [{"id": "a1", "text": "When does the vote happen?"}]}
ARTICLE = {"title": "Council votes on the library", "body": "The council voted 5-2..."}
FEEDBACK = {"comment_id": "c1", "text": "Buy cheap watches", "label": "spam", "article": ARTICLE}


@pytest.fixture()
def svc(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_missing_or_unknown_key_is_401(svc):
    r = svc.post("/v1/predict", json=COMMENT)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]
    assert svc.post("/v1/predict", json=COMMENT, headers=bearer("not-a-key-but-long-enough")).status_code == 401
    assert svc.post("/v1/predict", json=COMMENT, headers={"Authorization": "Basic abc"}).status_code == 401
    assert svc.get("/v1/model").status_code == 401
    assert svc.put("/v1/articles/a", json={"title": "t"}).status_code == 401


def test_predict_scope(svc):
    assert svc.post("/v1/predict", json=COMMENT, headers=bearer(PREDICT_KEY)).status_code == 200
    assert svc.post("/v1/predict", json=COMMENT, headers={"X-API-Key": PREDICT_KEY}).status_code == 200
    assert svc.get("/v1/model", headers=bearer(PREDICT_KEY)).status_code == 200


def test_a_predict_key_cannot_write_articles_or_feedback(svc):
    # A key embedded in a comment form must not poison the next retraining or rewrite what comments are
    # judged against (issue 24).
    r = svc.put("/v1/articles/a", json=ARTICLE, headers=bearer(PREDICT_KEY))
    assert r.status_code == 403 and "`articles` scope" in r.json()["detail"]
    r = svc.post("/v1/feedback", json=FEEDBACK, headers=bearer(PREDICT_KEY))
    assert r.status_code == 403 and "`feedback` scope" in r.json()["detail"]
    assert list(svc.app.state.store.iter_feedback()) == []
    assert svc.app.state.store.get_article("a") is None


def test_articles_and_feedback_scopes(svc):
    assert svc.put("/v1/articles/a", json=ARTICLE, headers=bearer(ARTICLES_KEY)).status_code == 201
    # Reading an article: the articles key, or a predict key (which names articles in its requests).
    assert svc.get("/v1/articles/a", headers=bearer(ARTICLES_KEY)).status_code == 200
    assert svc.get("/v1/articles/a", headers=bearer(PREDICT_KEY)).status_code == 200
    assert svc.get("/v1/articles/a", headers=bearer(FEEDBACK_KEY)).status_code == 403
    assert svc.post("/v1/feedback", json=FEEDBACK, headers=bearer(ARTICLES_KEY)).status_code == 403
    assert svc.post("/v1/feedback", json=FEEDBACK, headers=bearer(FEEDBACK_KEY)).status_code == 201
    assert svc.post("/v1/predict", json=COMMENT, headers=bearer(FEEDBACK_KEY)).status_code == 403


def test_admin_implies_every_scope(svc):
    assert svc.put("/v1/articles/a", json=ARTICLE, headers=bearer(ADMIN_KEY)).status_code == 201
    assert svc.post("/v1/feedback", json=FEEDBACK, headers=bearer(ADMIN_KEY)).status_code == 201


def test_feedback_is_recorded_under_the_keys_name(svc):
    store = svc.app.state.store
    assert svc.post("/v1/feedback", json=FEEDBACK, headers=bearer(FEEDBACK_KEY)).status_code == 201
    # The same name in the body is accepted (older clients send one); another name is refused, not dropped.
    same = FEEDBACK | {"comment_id": "c2", "moderator_id": "desk-1"}
    assert svc.post("/v1/feedback", json=same, headers=bearer(FEEDBACK_KEY)).status_code == 201
    forged = FEEDBACK | {"comment_id": "c3", "moderator_id": "chief-editor"}
    r = svc.post("/v1/feedback", json=forged, headers=bearer(FEEDBACK_KEY))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "moderator_id"]
    assert "this API key's name ('desk-1')" in r.json()["detail"][0]["msg"] and "chief-editor" not in r.text
    # A key in the older list form is named by its hash: stable, and not the key.
    assert svc.post("/v1/feedback", json=FEEDBACK | {"comment_id": "c4"}, headers=bearer(ADMIN_KEY)).status_code == 201
    moderators = [(f.comment_id, f.moderator_id) for f in store.iter_feedback()]
    admin_name = "key-" + hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:12]
    assert moderators == [("c1", "desk-1"), ("c2", "desk-1"), ("c4", admin_name)]
    assert derived_name(ADMIN_KEY) == admin_name and ADMIN_KEY not in admin_name


def test_open_mode_records_the_moderator_the_body_names(tmp_path, tiny_loaded, tiny_model_dir):
    # No keys (loopback only): any local process is trusted, so the body's moderator_id is kept as before.
    with service(tmp_path, tiny_loaded, tiny_model_dir) as client:
        assert client.post("/v1/feedback", json=FEEDBACK | {"moderator_id": "mod-7"}).status_code == 201
        assert client.post("/v1/feedback", json=FEEDBACK | {"comment_id": "c2"}).status_code == 201
        moderators = [f.moderator_id for f in client.app.state.store.iter_feedback()]
    assert moderators == ["mod-7", "local"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/predict", b'{"comments": ['),  # not JSON: was a 422
        ("POST", "/v1/predict", b'{"comments": [{"text": "\xff\xfe"}]}'),  # not UTF-8: was a 400
        ("POST", "/v1/predict", b"[" * 100_000),  # too deep: was a 400
        ("POST", "/v1/feedback", b'{"label": '),
        ("PUT", "/v1/articles/a", b"{,}"),
        ("POST", "/v1/admin/reload", b"{"),
    ],
)
def test_the_key_is_checked_before_the_body_is_read(svc, method, path, body):
    headers = {"content-type": "application/json"}
    r = svc.request(method, path, content=body, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text[:300]
    r = svc.request(method, path, content=body, headers=headers | bearer("not-a-key-but-long-enough"))
    assert r.status_code == 401, r.text[:300]


def test_a_key_without_the_scope_is_refused_before_the_body_is_read(svc):
    headers = {"content-type": "application/json"} | bearer(PREDICT_KEY)
    assert svc.post("/v1/feedback", content=b'{"label": ', headers=headers).status_code == 403
    assert svc.post("/v1/predict", content=b'{"comments": [', headers=headers).status_code == 422  # allowed: parsed


def test_admin_scope(svc):
    for method, path in (("post", "/v1/admin/reload"), ("get", "/v1/audit/a1"), ("get", "/v1/feedback/export")):
        r = getattr(svc, method)(path, headers=bearer(PREDICT_KEY))
        assert r.status_code == 403 and "`admin` scope" in r.json()["detail"], path
        assert getattr(svc, method)(path, headers=bearer(ADMIN_KEY)).status_code == 200, path
    assert svc.post("/v1/predict", json=COMMENT, headers=bearer(ADMIN_KEY)).status_code == 200


def test_health_and_metrics_stay_open(svc):
    assert svc.get("/healthz").status_code == 200
    assert svc.get("/readyz").json()["status"] == "ready"
    assert svc.get("/metrics").status_code == 200


def test_keys_never_reach_logs_or_reprs(tmp_path, tiny_loaded, tiny_model_dir, caplog):
    caplog.set_level(logging.DEBUG)
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS) as client:
        client.post("/v1/predict", json=COMMENT, headers=bearer(PREDICT_KEY))
        client.post("/v1/admin/reload", headers=bearer(PREDICT_KEY))
        client.post("/v1/predict", json=COMMENT, headers=bearer(ADMIN_KEY + "x"))
    assert PREDICT_KEY not in caplog.text and ADMIN_KEY not in caplog.text
    assert PREDICT_KEY not in repr(Settings(api_keys=KEYS))


def test_keys_file(tmp_path, tiny_loaded, tiny_model_dir):
    keys_file = tmp_path / "keys.json"
    keys = {ADMIN_KEY: ["admin"], PREDICT_KEY: {"scopes": ["predict"], "name": "comment-form"}}
    keys_file.write_text(json.dumps(keys), encoding="utf-8")
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys_file=keys_file) as client:
        assert client.post("/v1/admin/reload", headers=bearer(ADMIN_KEY)).status_code == 200
        assert client.post("/v1/predict", json=COMMENT, headers=bearer(ADMIN_KEY)).status_code == 200
        assert client.post("/v1/admin/reload", headers=bearer(PREDICT_KEY)).status_code == 403


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_keys": {"short": ["predict"]}}, "API key #1 is shorter than 16 characters"),
        ({"api_keys": {PREDICT_KEY: ["predcit"]}}, "API key #1 has scopes ['predcit']"),
        ({"api_keys": {PREDICT_KEY: []}}, "expected a non-empty list"),
        ({"api_keys": {PREDICT_KEY: {"scopes": ["predict"], "nmae": "x"}}}, "API key #1 has unknown fields ['nmae']"),
        ({"api_keys": {PREDICT_KEY: {"name": "desk-1"}}}, "API key #1 has scopes None"),
        ({"api_keys": {PREDICT_KEY: {"scopes": ["predict"], "name": "a\nb"}}}, "API key #1 has a name that is not"),
        ({"api_keys": {PREDICT_KEY: {"scopes": ["predict"], "name": "x" * 65}}}, "1 to 64 printable characters"),
        ({"api_keys_file": "/nonexistent/keys.json"}, "api_keys_file keys.json does not exist"),
    ],
)
def test_bad_key_settings_are_refused_without_echoing_keys(settings, message):
    with pytest.raises(AuthConfigError) as e:
        load_keyring(Settings(**settings))
    assert message in str(e.value) and PREDICT_KEY not in str(e.value)


def test_open_mode_only_on_loopback(tiny_loaded, tiny_model_dir):
    from serve.app import create_app

    with pytest.raises(AuthConfigError, match="no API keys are configured and host is 0.0.0.0"):
        create_app(Settings(model_dir=tiny_model_dir, host="0.0.0.0"), tiny_loaded)
    create_app(Settings(model_dir=tiny_model_dir, host="::1"), tiny_loaded)  # loopback: allowed, with a warning


def test_keyring_compares_every_key():
    ring = load_keyring(Settings(api_keys=KEYS))
    assert isinstance(ring, KeyRing) and not ring.open
    found = ring.find(ADMIN_KEY)
    assert found is not None and found.scopes == frozenset({"predict", "admin"})
    assert ring.find(ADMIN_KEY[:-1]) is None
    assert ring.find(FEEDBACK_KEY).name == "desk-1"


def test_two_keys_may_share_a_name():
    # Rotation: the new key takes the old one's name, so the moderator's feedback stays under one identity.
    new_key = "nk-0123456789abcdef-feedback"
    ring = load_keyring(Settings(api_keys={FEEDBACK_KEY: KEYS[FEEDBACK_KEY], new_key: KEYS[FEEDBACK_KEY]}))
    assert ring.find(FEEDBACK_KEY).name == ring.find(new_key).name == "desk-1"
