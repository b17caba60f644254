"""API keys and scopes: 401 without or with an unknown key, 403 without the scope, health stays open."""

import json
import logging

import pytest

from serve.auth import AuthConfigError, KeyRing, load_keyring
from serve.settings import Settings
from tests.service_app import service

PREDICT_KEY = "pk-0123456789abcdef-predict"
ADMIN_KEY = "ak-0123456789abcdef-admin"
KEYS = {PREDICT_KEY: ["predict"], ADMIN_KEY: ["predict", "admin"]}
COMMENT = {"comments": [{"id": "a1", "text": "When does the vote happen?"}]}


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
    assert svc.put("/v1/articles/a", json={"title": "t"}, headers=bearer(PREDICT_KEY)).status_code in (200, 201)
    assert svc.get("/v1/model", headers=bearer(PREDICT_KEY)).status_code == 200


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
    keys_file.write_text(json.dumps({ADMIN_KEY: ["admin"]}), encoding="utf-8")
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys_file=keys_file) as client:
        assert client.post("/v1/admin/reload", headers=bearer(ADMIN_KEY)).status_code == 200
        assert client.post("/v1/predict", json=COMMENT, headers=bearer(ADMIN_KEY)).status_code == 403


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_keys": {"short": ["predict"]}}, "API key #1 is shorter than 16 characters"),
        ({"api_keys": {PREDICT_KEY: ["predcit"]}}, "API key #1 has scopes ['predcit']"),
        ({"api_keys": {PREDICT_KEY: []}}, "expected a non-empty list"),
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
    assert ring.scopes_for(ADMIN_KEY) == frozenset({"predict", "admin"})
    assert ring.scopes_for(ADMIN_KEY[:-1]) is None
