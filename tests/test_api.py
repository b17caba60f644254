"""The HTTP contract, through the app in-process: answers, and every kind of bad input."""

import json

import pytest

from model.labels import LABELS

ARTICLE = {"title": "Central bank holds rates at 4.25%", "body": "The central bank held its main rate..."}


def test_predict_answers_in_order_with_scores(client):
    body = {
        "comments": [{"id": "c1", "text": "you absolute idiot"}, {"text": "Which members voted for a cut?"}],
        "article": ARTICLE,
    }
    r = client.post("/v1/predict", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"]["name"] == "comment-moderation" and out["model"]["version"]
    assert [res["id"] for res in out["results"]] == ["c1", None]
    for res in out["results"]:
        assert set(res["scores"]) == set(LABELS)
        assert abs(sum(res["scores"].values()) - 1) < 1e-4
        assert res["label"] == max(res["scores"], key=res["scores"].get)


def test_per_comment_article_overrides_shared_one(client):
    body = {"comments": [{"text": "Which members voted?", "article": ARTICLE}]}
    assert client.post("/v1/predict", json=body).status_code == 200


def test_health_ready_and_model(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    meta = client.get("/v1/model").json()
    assert meta["labels"] == list(LABELS) and "held_out" in meta["metrics"]
    assert meta["embedding_runtime"] in ("onnxruntime", "torch")  # the tiny model embeds; which runtime, said


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"comments": [{"text": ""}]}, ["body", "comments", 0, "text"]),
        ({"comments": [{"text": "   "}]}, ["body", "comments", 0, "text"]),
        ({"comments": [{"text": "x" * 10_001}]}, ["body", "comments", 0, "text"]),
        ({"comments": [{"text": 5}]}, ["body", "comments", 0, "text"]),
        ({"comments": []}, ["body", "comments"]),
        ({"comments": [{"text": "hi"}] * 257}, ["body", "comments"]),
        ({"comments": "hello"}, ["body", "comments"]),
        ({"comments": [{"text": "hi", "artcle": {}}]}, ["body", "comments", 0, "artcle"]),
        ({"comments": [{"text": "hi", "id": ["x"]}]}, ["body", "comments", 0, "id"]),
        ({"comments": [{"text": "hi", "id": "c\u00001"}]}, ["body", "comments", 0, "id"]),
        ({"comments": [{"text": "hi", "article_id": "a\r\nb"}]}, ["body", "comments", 0, "article_id"]),
        ({"comments": [{"text": "hi"}], "article_id": "a\u0000"}, ["body", "article_id"]),
        ({"comments": [{"text": "hi"}], "site_id": "site\u0000"}, ["body", "site_id"]),
        ({"comments": [{"text": "hi"}], "site_id": "s" * 257}, ["body", "site_id"]),
        ({}, ["body", "comments"]),
    ],
)
def test_bad_input_is_422_naming_the_field(client, body, loc):
    r = client.post("/v1/predict", json=body)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]]


def test_validation_errors_do_not_echo_input(client):
    r = client.post("/v1/predict", json={"comments": [{"text": "secret " * 2000}]})
    assert r.status_code == 422 and "secret" not in r.text


def test_id_errors_say_what_to_fix(client):
    r = client.post("/v1/predict", json={"comments": [{"text": "hi", "id": "c\u00001"}]})
    assert "must not contain control characters such as NUL" in r.json()["detail"][0]["msg"]


def test_errors_do_not_echo_ids_or_headers(client):
    # README: the offending input is never echoed back, in any error (issue 24 found two that did).
    r = client.post("/v1/predict", json={"comments": [{"text": "hi", "article_id": "zz-not-stored"}]})
    assert r.status_code == 422 and "zz-not-stored" not in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "comments", 0, "article_id"]
    r = client.get("/v1/articles/zz-not-stored")
    assert r.status_code == 404 and "zz-not-stored" not in r.text
    r = client.post("/v1/predict", content=b"{}", headers={"content-type": "text/zz-evil"})
    assert r.status_code == 415 and "zz-evil" not in r.text and "application/json" in r.text


def test_invalid_json_is_422(client):
    r = client.post("/v1/predict", content=b'{"comments": [', headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_non_json_is_415(client):
    r = client.post("/v1/predict", content=b"text=hi", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    assert client.post("/v1/predict", content=b"{}").status_code == 415


def test_body_over_limit_is_413(client):
    body = json.dumps({"comments": [{"text": "a" * 9_000}] * 240}).encode()
    assert len(body) > 2 * 1024 * 1024
    r = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_a_site_can_lower_the_request_limits(tmp_path, tiny_loaded, tiny_model_dir):
    """MODERATION_MAX_COMMENTS / MAX_TEXT_CHARS were once read and ignored: lowered, they now refuse with a 422."""
    from tests.service_app import service

    with service(tmp_path, tiny_loaded, tiny_model_dir, max_comments=2, max_text_chars=20) as c:
        ok = c.post("/v1/predict", json={"comments": [{"text": "fine"}, {"text": "also fine"}]})
        assert ok.status_code == 200
        many = c.post("/v1/predict", json={"comments": [{"text": "a"}, {"text": "b"}, {"text": "c"}]})
        assert many.status_code == 422
        (err,) = many.json()["detail"]
        assert err["loc"] == ["body", "comments"] and "MODERATION_MAX_COMMENTS" in err["msg"]
        long = c.post("/v1/predict", json={"comments": [{"text": "short"}, {"text": "x" * 21}]})
        assert long.status_code == 422
        (err,) = long.json()["detail"]
        assert err["loc"] == ["body", "comments", 1, "text"] and "MODERATION_MAX_TEXT_CHARS" in err["msg"]


def test_request_limits_cannot_exceed_the_api_ceilings():
    from pydantic import ValidationError

    from serve.settings import Settings

    with pytest.raises(ValidationError, match="max_comments"):
        Settings(max_comments=1000)
