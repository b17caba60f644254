"""Google's own Perspective client, unmodified, against a real server on loopback serving the shipped model.

The client is google-api-python-client, the library Perspective's documentation uses for Python: it reads the
discovery document at `discoveryServiceUrl` and calls the `rootUrl` written there. A site that moves to this
service changes that one URL (docs/perspective.md); nothing here tells the client our paths, fields or error
shape, so each test below is what such a site sees. Offline: the client talks to loopback only.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httplib2
import httpx
import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from .live import Live, start

KEY = "client-analyze-key-0123456789abcdef"  # predict and feedback, as a Coral or site backend would hold
PREDICT_ONLY = "client-predict-key-0123456789abcdef"
ADMIN = "client-admin-key-0123456789abcdef"
KEYS = {
    KEY: {"scopes": ["predict", "feedback"], "name": "site-backend"},
    PREDICT_ONLY: {"scopes": ["predict"], "name": "site-form"},
    ADMIN: {"scopes": ["admin"], "name": "ops"},
}
TOXIC = "You are a pathetic idiot and everyone here hates you, shut up."
CIVIL = "Thanks, the section on export controls answered my question about the licences."
ATTRIBUTES = ("TOXICITY", "SPAM", "UNSUBSTANTIAL")


@pytest.fixture(scope="module")
def live(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start(
        default_model_dir, tmp_path_factory.mktemp("perspective-client"), env={"MODERATION_API_KEYS": json.dumps(KEYS)}
    )
    try:
        yield server
    finally:
        server.stop()


def discovery_url(live: Live) -> str:
    # Perspective's documented URL with the host changed; the client fills in {apiVersion}.
    return f"{live.url}/$discovery/rest?version={{apiVersion}}"


def client(live: Live, key: str) -> Any:
    """As Perspective's Python example builds it. Our own Http only to set a timeout and to keep any proxy in
    the environment from taking loopback requests; no discovery cache, so each test reads the live document."""
    return discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=key,
        discoveryServiceUrl=discovery_url(live),
        static_discovery=False,
        cache_discovery=False,
        http=httplib2.Http(timeout=60, proxy_info=None),
    )


def analyze(live: Live, text: str, key: str = KEY, **extra: Any) -> dict[str, Any]:
    body = {"comment": {"text": text}, "requestedAttributes": {a: {} for a in ATTRIBUTES}, "languages": ["en"]}
    return client(live, key).comments().analyze(body={**body, **extra}).execute()


def value(answer: dict[str, Any], attribute: str) -> float:
    summary = answer["attributeScores"][attribute]["summaryScore"]
    assert summary["type"] == "PROBABILITY" and 0.0 <= summary["value"] <= 1.0, summary
    return summary["value"]


def test_the_discovery_document_points_the_client_back_at_this_server(live: Live):
    doc = httpx.get(f"{live.url}/$discovery/rest", params={"version": "v1alpha1"}, timeout=30).json()
    assert doc["rootUrl"] == live.url + "/" and doc["name"] == "commentanalyzer" and doc["version"] == "v1alpha1"
    assert set(doc["resources"]["comments"]["methods"]) == {"analyze", "suggestscore"}  # only what we answer
    assert "auth" not in doc  # with OAuth scopes declared, the client would look for Google credentials
    # Behind a proxy the client calls back on the host it asked; uvicorn takes the scheme from trusted proxies.
    proxied = httpx.get(
        f"{live.url}/$discovery/rest?version=v1alpha1", headers={"Host": "moderation.example.org"}, timeout=30
    )
    assert proxied.json()["rootUrl"] == "http://moderation.example.org/"


def test_a_version_we_do_not_serve_is_404_in_googles_shape(live: Live):
    r = httpx.get(f"{live.url}/$discovery/rest", params={"version": "v1"}, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", r.text
    assert "v1alpha1" in r.json()["error"]["message"]


def test_the_client_scores_a_toxic_and_a_civil_comment(live: Live):
    toxic = analyze(live, TOXIC, clientToken="t-1")
    civil = analyze(live, CIVIL)
    assert set(toxic["attributeScores"]) == set(civil["attributeScores"]) == set(ATTRIBUTES)
    assert toxic["languages"] == ["en"] and toxic["clientToken"] == "t-1"
    assert value(toxic, "TOXICITY") > 0.5 > value(civil, "TOXICITY")
    # The same scores /v1/predict gives: the client reached the model, not a stub or a cached answer.
    predicted = httpx.post(
        f"{live.url}/v1/predict", json={"comments": [{"text": CIVIL}]}, headers={"X-API-Key": KEY}, timeout=60
    ).json()["results"][0]["scores"]
    assert value(civil, "TOXICITY") == pytest.approx(predicted["toxic"], abs=1e-6)
    assert value(civil, "SPAM") == pytest.approx(predicted["spam"], abs=1e-6)
    assert value(civil, "UNSUBSTANTIAL") == pytest.approx(1 - predicted["substantive"], abs=1e-6)


def test_a_wrong_key_is_the_clients_http_error_with_googles_reason(live: Live):
    with pytest.raises(HttpError) as caught:
        analyze(live, CIVIL, key="not-a-key-0123456789abcdef")
    error = caught.value
    assert error.status_code == 400
    assert "API key not valid" in error.reason  # the client read our message from Google's error shape
    assert error.error_details == [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]


def test_an_unsupported_attribute_reaches_the_client_as_a_named_400(live: Live):
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"NO_SUCH_ATTRIBUTE": {}}}
    with pytest.raises(HttpError) as caught:
        client(live, KEY).comments().analyze(body=body).execute()
    assert caught.value.status_code == 400 and "NO_SUCH_ATTRIBUTE" in caught.value.reason


def test_suggestscore_from_the_client_lands_in_the_feedback_store(live: Live):
    text = "Moderators: this one reads as a threat to the author, please take it down quickly."
    body = {
        "comment": {"text": text},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "languages": ["en"],
        "communityId": "client-test-site",
        "clientToken": "comment:42",
    }
    answer = client(live, KEY).comments().suggestscore(body=body).execute()
    assert answer["clientToken"] == "comment:42" and answer["detectedLanguages"] == ["en"]
    export = httpx.get(f"{live.url}/v1/feedback/export", headers={"X-API-Key": ADMIN}, timeout=30)
    assert export.status_code == 200, export.text
    mine = [row for row in map(json.loads, export.text.splitlines()) if row["text"] == text]
    assert len(mine) == 1 and mine[0]["label"] == "toxic", mine
    # A key without the feedback scope is refused through the client, as Google refuses it.
    with pytest.raises(HttpError) as caught:
        client(live, PREDICT_ONLY).comments().suggestscore(body=body).execute()
    assert caught.value.status_code == 403


def test_the_trained_attributes_and_their_spans_through_the_client(live: Live):
    """The sub-attributes the shipped model's attributes/ answers, with character spans, as the client gets them."""
    text = "What a stupid idea, you moron."
    body = {
        "comment": {"text": text},
        "requestedAttributes": {"INSULT": {}, "PROFANITY": {}, "THREAT": {}, "IDENTITY_ATTACK": {}},
        "spanAnnotations": True,
        "languages": ["en"],
    }
    answer = client(live, KEY).comments().analyze(body=body).execute()
    assert set(answer["attributeScores"]) == {"INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK"}
    assert value(answer, "INSULT") > value(analyze(live, CIVIL, requestedAttributes={"INSULT": {}}), "INSULT")
    marked = {text[s["begin"] : s["end"]] for s in answer["attributeScores"]["INSULT"]["spanScores"]}
    assert any("moron" in m for m in marked), marked
