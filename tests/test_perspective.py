"""The Perspective-compatible endpoints against a real server on loopback, serving the shipped model.

Requests are built as Perspective clients build them: the key in `?key=`, camelCase JSON, the path with its
colon. Coral Talk's toxicity phase (coralproject/talk, src/core/server/services/perspective/perspective.ts)
joins `/comments:analyze` to its configured endpoint, adds `?key=`, and posts `comment.text`, `doNotStore`,
`requestedAttributes: {<model>: {}}` and `languages: [<one code>]`; it reads
`attributeScores.<model>.summaryScore.value`.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .live import Live, start

PREDICT_KEY = "persp-predict-key-0123456789abcdef"
FEEDBACK_KEY = "persp-feedback-key-0123456789abcdef"
ADMIN_KEY = "persp-admin-key-0123456789abcdef"
KEYS = {
    PREDICT_KEY: {"scopes": ["predict"], "name": "site-form"},
    FEEDBACK_KEY: {"scopes": ["feedback"], "name": "coral-desk"},
    ADMIN_KEY: {"scopes": ["admin"], "name": "ops"},
}
TOXIC = "You are a pathetic idiot and everyone here hates you, shut up."
CALM = "Thanks, the section on export controls answered my question about the licences."
ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("perspective")


@pytest.fixture(scope="module")
def live(default_model_dir: Path, workdir: Path) -> Iterator[Live]:
    # Debug logging: the request log line is written, so the test below can show that the key is not in it.
    env = {"MODERATION_API_KEYS": json.dumps(KEYS), "MODERATION_LOG_LEVEL": "debug"}
    server = start(default_model_dir, workdir, env=env)
    try:
        yield server
    finally:
        server.stop()


def post(live: Live, path: str, body: Any, key: str | None = PREDICT_KEY) -> httpx.Response:
    params = {"key": key} if key is not None else {}
    return httpx.post(live.url + path, json=body, params=params, timeout=60)


def analyze_body(text: str, *attributes: str, **extra: Any) -> dict[str, Any]:
    return {"comment": {"text": text}, "requestedAttributes": {a: {} for a in attributes}, **extra}


def google_error(r: httpx.Response, code: int, status: str) -> str:
    """Google's error shape and nothing of FastAPI's; the message, for the test to check."""
    assert r.status_code == code, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code and body["error"]["status"] == status, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def score(body: dict[str, Any], attribute: str) -> float:
    summary = body["attributeScores"][attribute]["summaryScore"]
    assert summary["type"] == "PROBABILITY"
    assert 0.0 <= summary["value"] <= 1.0
    return summary["value"]


def test_analyze_scores_are_the_models_calibrated_scores(live: Live):
    body = analyze_body(TOXIC, "TOXICITY", "SPAM", "UNSUBSTANTIAL", languages=["en"], clientToken="tok-1")
    r = post(live, ANALYZE, body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["languages"] == ["en"] and answer["clientToken"] == "tok-1"
    assert set(answer["attributeScores"]) == {"TOXICITY", "SPAM", "UNSUBSTANTIAL"}
    predicted = httpx.post(
        f"{live.url}/v1/predict", json={"comments": [{"text": TOXIC}]}, headers={"X-API-Key": PREDICT_KEY}, timeout=60
    ).json()["results"][0]["scores"]
    assert score(answer, "TOXICITY") == pytest.approx(predicted["toxic"], abs=1e-6)
    assert score(answer, "SPAM") == pytest.approx(predicted["spam"], abs=1e-6)
    assert score(answer, "UNSUBSTANTIAL") == pytest.approx(1 - predicted["substantive"], abs=1e-6)
    calm = post(live, ANALYZE, analyze_body(CALM, "TOXICITY")).json()
    assert score(answer, "TOXICITY") > 0.5 > score(calm, "TOXICITY")  # the model, not a constant


def test_an_attribute_under_its_threshold_is_left_out(live: Live):
    value = score(post(live, ANALYZE, analyze_body(CALM, "TOXICITY")).json(), "TOXICITY")
    body = {
        "comment": {"text": CALM},
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": min(1.0, value + 0.01)}, "SPAM": {"scoreThreshold": 0}},
    }
    r = post(live, ANALYZE, body)
    assert r.status_code == 200, r.text
    assert set(r.json()["attributeScores"]) == {"SPAM"}


@pytest.mark.parametrize(
    ("attribute", "said"),
    [("SEXUALLY_EXPLICIT", "not supported by this service"), ("NO_SUCH_ATTRIBUTE", "not a Perspective attribute")],
)
def test_an_unsupported_attribute_is_400_naming_it_and_the_supported_ones(live: Live, attribute: str, said: str):
    message = google_error(post(live, ANALYZE, analyze_body(CALM, "TOXICITY", attribute)), 400, "INVALID_ARGUMENT")
    assert attribute in message and said in message and "TOXICITY" in message and "INSULT" in message


def test_drop_unsupported_attributes_drops_them_instead(live: Live):
    r = post(live, ANALYZE, analyze_body(CALM, "TOXICITY", "FLIRTATION", dropUnsupportedAttributes=True))
    assert r.status_code == 200, r.text
    assert set(r.json()["attributeScores"]) == {"TOXICITY"}


def test_span_annotations_are_answered_with_span_scores(live: Live):
    # tests/test_perspective_attributes.py checks where the spans point; here, that the answer has them.
    r = post(live, ANALYZE, analyze_body(TOXIC, "TOXICITY", spanAnnotations=True))
    assert r.status_code == 200, r.text
    answer = r.json()["attributeScores"]["TOXICITY"]
    assert set(answer) == {"summaryScore", "spanScores"}
    assert any(TOXIC[s["begin"] : s["end"]] in ("idiot", "pathetic idiot") for s in answer["spanScores"]), answer


def test_a_language_other_than_english_is_400_naming_it(live: Live):
    message = google_error(
        post(live, ANALYZE, analyze_body(CALM, "TOXICITY", languages=["fr"])), 400, "INVALID_ARGUMENT"
    )
    assert "'fr'" in message and "English" in message
    assert post(live, ANALYZE, analyze_body(CALM, "TOXICITY", languages=["en-US"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"requestedAttributes": {"TOXICITY": {}}}, "comment"),
        ({"comment": {}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
        ({"comment": {"text": 42}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
        ({"comment": {"text": CALM}, "requestedAttributes": ["TOXICITY"]}, "requestedAttributes"),
        ({"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
    ],
)
def test_an_invalid_request_is_400_in_googles_shape(live: Live, body: dict[str, Any], named: str):
    assert named in google_error(post(live, ANALYZE, body), 400, "INVALID_ARGUMENT")


def test_keys_as_perspective_clients_send_them(live: Live):
    body = analyze_body(CALM, "TOXICITY")
    assert httpx.post(live.url + ANALYZE, json=body, headers={"X-API-Key": PREDICT_KEY}, timeout=60).status_code == 200
    google_error(post(live, ANALYZE, body, key=None), 401, "UNAUTHENTICATED")
    bad = post(live, ANALYZE, body, key="not-a-key-0123456789abcdef")
    google_error(bad, 400, "INVALID_ARGUMENT")
    assert bad.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    google_error(post(live, ANALYZE, body, key=FEEDBACK_KEY), 403, "PERMISSION_DENIED")  # no predict scope
    suggestion = {"comment": {"text": CALM}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}}
    google_error(post(live, SUGGEST, suggestion, key=PREDICT_KEY), 403, "PERMISSION_DENIED")  # no feedback scope


def test_the_key_in_the_query_string_never_reaches_the_log(live: Live):
    assert post(live, ANALYZE, analyze_body(CALM, "TOXICITY")).status_code == 200
    log = live.log()
    assert f"{ANALYZE} -> 200" in log  # the request line is logged (debug) ...
    for key in KEYS:
        assert key not in log  # ... without the query string


def audit(live: Live, text: str) -> list[dict[str, Any]]:
    comment_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]  # serve.predict.audit_id
    r = httpx.get(f"{live.url}/v1/audit/{comment_id}", headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def fingerprints(workdir: Path, text: str) -> int:
    comment_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    with sqlite3.connect(workdir / "moderation.sqlite3") as db:
        return db.execute("SELECT count(*) FROM fingerprints WHERE comment_id = ?", (comment_id,)).fetchone()[0]


def test_do_not_store_keeps_the_comment_out_of_the_audit_and_the_copy_paste_memory(live: Live, workdir: Path):
    secret = "My neighbour at 12 Elm Street keeps parking across my drive, and the council will not act."
    r = post(live, ANALYZE, analyze_body(secret, "TOXICITY", doNotStore=True))
    assert r.status_code == 200, r.text
    assert audit(live, secret) == [] and fingerprints(workdir, secret) == 0
    # The same request without doNotStore is audited and remembered: the check above can fail.
    assert post(live, ANALYZE, analyze_body(secret, "TOXICITY")).status_code == 200
    assert len(audit(live, secret)) == 1 and fingerprints(workdir, secret) == 1


def test_suggestscore_is_moderator_feedback_in_the_training_export(live: Live):
    text = "Buy cheap watches at my shop, link in my profile, best prices this week only!!"
    body = {
        "comment": {"text": text},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.0}}, "SPAM": {"summaryScore": {"value": 1.0}}},
        "context": {"entries": [{"text": "Watchmakers return to the high street"}, {"text": "Repair shops reopen."}]},
        "languages": ["en"],
        "clientToken": "comment:abc",
    }
    r = post(live, SUGGEST, body, key=FEEDBACK_KEY)
    assert r.status_code == 200, r.text
    assert r.json()["clientToken"] == "comment:abc" and r.json()["detectedLanguages"] == ["en"]
    export = httpx.get(f"{live.url}/v1/feedback/export", headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    rows = [json.loads(line) for line in export.text.splitlines()]
    mine = [row for row in rows if row["text"] == text]
    assert len(mine) == 1, rows
    assert mine[0]["label"] == "spam"
    assert "Watchmakers" in json.dumps(mine[0])  # the context is the article training sees


def test_suggestscore_refuses_an_attribute_it_cannot_learn(live: Live):
    body = {"comment": {"text": CALM}, "attributeScores": {"INSULT": {"summaryScore": {"value": 1}}}}
    assert "INSULT" in google_error(post(live, SUGGEST, body, key=FEEDBACK_KEY), 400, "INVALID_ARGUMENT")


def test_the_body_coral_talks_toxicity_phase_sends(live: Live):
    endpoint = f"{live.url}/v1alpha1"  # what a Coral admin types as the Perspective endpoint
    url = endpoint + "/comments:analyze"  # Coral: path.join(url.pathname, "/comments:analyze")
    body = {
        "comment": {"text": TOXIC},
        "doNotStore": True,
        "requestedAttributes": {"TOXICITY": {}},
        "languages": ["en"],
    }
    r = httpx.post(
        url,
        content=json.dumps(body),
        params={"key": PREDICT_KEY},
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    value = r.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
    assert isinstance(value, float) and value > 0.5
