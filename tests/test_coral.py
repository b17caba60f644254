"""Coral Talk's External Moderation Phase contract, with requests built as Coral builds them.

Coral (src/core/server/services/comments/pipeline/phases/external.ts) serialises the request with
JSON.stringify(data, null, 2), which json.dumps(data, indent=2, ensure_ascii=False) reproduces byte for byte, and
signs those bytes: `X-Coral-Signature: sha256=<hex HMAC-SHA256 of the body>`, one item per active secret.
"""

import hashlib
import hmac
import json

import pytest

from tests.service_app import APPROVE_ALL, service, write_policy

SECRET = "ssc_2f1c6b0e-4b1e-4d4e-9a51-6f6d1d0f3a77"
OLD_SECRET = "ssc_0a9d8c7b-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
# Coral's response schema (external.ts validateResponse): the values it accepts.
STATUSES = {"APPROVED", "REJECTED", "PREMOD", "SYSTEM_WITHHELD", "NONE"}
FLAG_REASONS = {"COMMENT_DETECTED_TOXIC", "COMMENT_DETECTED_SPAM"}

HOLD_SPAM = 'version = "hold-spam"\n[thresholds.spam]\nhold = 0.0\nreject = 1.0\n'
REJECT_TOXIC = 'version = "reject-toxic"\n[thresholds.toxic]\nhold = 0.0\nreject = 0.0\n'
SHADOW_SITE = REJECT_TOXIC + "[sites.site-shadow]\nshadow = true\n"


def coral_request(body: str, story: str = "story-1", site: str = "site-1", action: str = "NEW") -> dict:
    return {
        "action": action,
        "comment": {"body": body, "parentID": None},
        "author": {"id": "user-42", "role": "COMMENTER"},
        "story": {"id": story, "url": f"https://news.example/{story}"},
        "site": {"id": site},
        "tenantID": "tenant-1",
        "tenantDomain": "news.example",
    }


def signed(payload: dict, *secrets: str) -> tuple[bytes, dict[str, str]]:
    # ensure_ascii=False: JSON.stringify writes non-ASCII characters as they are, in UTF-8.
    raw = json.dumps(payload, indent=2, ensure_ascii=False).encode()
    sig = ",".join("sha256=" + hmac.new(s.encode(), raw, hashlib.sha256).hexdigest() for s in secrets)
    return raw, {"Content-Type": "application/json", "X-Coral-Signature": sig}


def send(client, payload: dict, *secrets: str):
    raw, headers = signed(payload, *(secrets or (SECRET,)))
    return client.post("/v1/integrations/coral", content=raw, headers=headers)


@pytest.fixture()
def make(tmp_path, tiny_loaded, tiny_model_dir):
    def build(policy: str, **settings):
        path = write_policy(tmp_path, policy, f"{abs(hash(policy))}.toml")
        settings.setdefault("coral_signing_secrets", [SECRET])
        return service(tmp_path, tiny_loaded, tiny_model_dir, policy_file=path, **settings)

    return build


def test_approve_is_204_without_body(make):
    with make(APPROVE_ALL) as client:
        r = send(client, coral_request("Which councillors voted for the closure?"))
        assert r.status_code == 204 and r.content == b""
        # Non-ASCII text is signed as UTF-8 bytes, exactly as Coral sends it.
        assert send(client, coral_request("Wer hat für die Schließung gestimmt? 🤔")).status_code == 204


def test_reject_is_rejected_with_a_toxic_flag(make):
    with make(REJECT_TOXIC) as client:
        r = send(client, coral_request("<p>you absolute <b>idiot</b></p>"))
        assert r.status_code == 200
        assert r.json() == {
            "status": "REJECTED",
            "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
        }


def test_hold_is_system_withheld_with_a_spam_flag(make):
    with make(HOLD_SPAM) as client:
        out = send(client, coral_request("Great post, thanks for sharing!")).json()
        assert out == {
            "status": "SYSTEM_WITHHELD",
            "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}],
        }
        assert out["status"] in STATUSES and {a["reason"] for a in out["actions"]} <= FLAG_REASONS


def test_site_policy_and_shadow_from_site_id(make):
    with make(SHADOW_SITE) as client:
        assert send(client, coral_request("you idiot", site="site-1")).status_code == 200
        assert send(client, coral_request("you idiot", site="site-shadow")).status_code == 204


def test_copy_paste_across_stories_is_withheld_as_spam(make):
    praise = "Great article, thanks so much for sharing this with us!"
    with make(APPROVE_ALL) as client:
        assert send(client, coral_request(praise, story="s1")).status_code == 204
        assert send(client, coral_request(praise, story="s2")).status_code == 204
        r = send(client, coral_request(praise, story="s3"))
        assert r.status_code == 200 and r.json()["status"] == "SYSTEM_WITHHELD"
        assert r.json()["actions"] == [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}]


def test_decisions_are_audited(make):
    from serve.coral import CoralRequest, comment_id

    with make(REJECT_TOXIC) as client:
        payload = coral_request("you idiot", site="site-9")
        send(client, payload)
        # Coral sends no comment id; the entry is filed under the id the service derives from the request.
        cid = comment_id(CoralRequest.model_validate(payload), "you idiot")
        entries = client.get(f"/v1/audit/{cid}").json()["entries"]
        assert len(entries) == 1 and entries[0]["site_id"] == "site-9" and entries[0]["action"] == "reject"


def test_rotation_accepts_either_secret(make):
    with make(APPROVE_ALL, coral_signing_secrets=[OLD_SECRET, SECRET]) as client:
        assert send(client, coral_request("Which councillors voted?"), SECRET).status_code == 204
        assert send(client, coral_request("Which councillors voted?"), OLD_SECRET).status_code == 204
    with make(APPROVE_ALL, coral_signing_secrets=[SECRET]) as client:
        # Coral mid-rotation sends both signatures; one valid is enough.
        assert send(client, coral_request("Which councillors voted?"), OLD_SECRET, SECRET).status_code == 204


@pytest.mark.parametrize("case", ["missing", "wrong secret", "tampered body", "not sha256", "garbage"])
def test_bad_signature_is_401(make, case):
    with make(APPROVE_ALL) as client:
        raw, headers = signed(coral_request("Which councillors voted?"), SECRET)
        if case == "missing":
            del headers["X-Coral-Signature"]
        elif case == "wrong secret":
            raw, headers = signed(coral_request("Which councillors voted?"), "not-the-secret")
        elif case == "tampered body":
            raw = raw.replace(b"Which", b"Whose")
        elif case == "not sha256":
            headers["X-Coral-Signature"] = headers["X-Coral-Signature"].replace("sha256=", "sha1=")
        else:
            headers["X-Coral-Signature"] = "sha256=\u00e9\u00e9".encode("latin-1")  # type: ignore[assignment]
        r = client.post("/v1/integrations/coral", content=raw, headers=headers)
        assert r.status_code == 401 and "X-Coral-Signature" in r.json()["detail"]


def test_no_secret_configured_is_404(make):
    with make(APPROVE_ALL, coral_signing_secrets=[]) as client:
        r = send(client, coral_request("hi there"))
        assert r.status_code == 404 and "MODERATION_CORAL_SIGNING_SECRETS" in r.json()["detail"]


def test_signed_but_malformed_request_is_422(make):
    with make(APPROVE_ALL) as client:
        bad = coral_request("hi")
        del bad["story"]
        r = send(client, bad)
        assert r.status_code == 422 and ["body", "story"] in [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("story", "id"), "s" * 257),
        (("story", "id"), "story\u0000"),
        (("story", "id"), ""),
        (("site", "id"), "site\u0000a"),
        (("site", "id"), "x" * 257),
        (("author", "id"), "u" * 257),
        (("author", "id"), "user\n42"),
        (("tenantID",), "t\u0000"),
        (("comment", "parentID"), "p" * 257),
    ],
)
def test_ids_are_limited_where_they_enter(make, where: tuple, value: str):
    # Story and site ids are written to String(256) columns, which PostgreSQL refuses NUL in: a 422 naming
    # the field, before any work, and never a 500 at the audit write.
    payload = coral_request("hi there")
    target = payload
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with make(APPROVE_ALL) as client:
        r = send(client, payload)
        assert r.status_code == 422, r.text
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", *where] and set(error) == {"loc", "msg", "type"}  # no "input" echoed


def test_stored_article_for_story_id_is_used(tmp_path, tiny_relevance_model):
    from serve.coral import CoralRequest, comment_id

    model_dir, loaded = tiny_relevance_model
    article = {"title": "Council votes to close Elm Street library on Sundays", "body": "The vote was 5-2."}
    text = "Will Elm Street library close on Sundays now?"
    with service(tmp_path, loaded, model_dir, coral_signing_secrets=[SECRET]) as client:
        assert client.put("/v1/articles/story-7", json=article).status_code in (200, 201)
        by_id = coral_request(text, story="story-7")
        none = coral_request(text, story="story-9")
        inline = client.post("/v1/predict", json={"comments": [{"text": text, "article": article}]}).json()
        for payload in (by_id, none):
            send(client, payload)
        scores = {
            p["story"]["id"]: client.get(f"/v1/audit/{comment_id(CoralRequest.model_validate(p), text)}").json()[
                "entries"
            ][0]["scores"]
            for p in (by_id, none)
        }
        assert scores["story-7"] == inline["results"][0]["scores"]
        assert scores["story-9"] != scores["story-7"]


def test_coral_over_a_real_server(tmp_path, tiny_model_dir):
    """The signed bytes travel over real HTTP to uvicorn, as Coral's fetch sends them."""
    import httpx

    from tests.service_app import real_server

    policy = write_policy(tmp_path, REJECT_TOXIC)
    env = {"MODERATION_CORAL_SIGNING_SECRETS": json.dumps([SECRET]), "MODERATION_POLICY_FILE": str(policy)}
    with real_server(tmp_path, tiny_model_dir, **env) as url:
        raw, headers = signed(coral_request("you absolute idiot"), SECRET)
        r = httpx.post(f"{url}/v1/integrations/coral", content=raw, headers=headers, timeout=60)
        assert r.status_code == 200 and r.json()["status"] == "REJECTED"
        headers["X-Coral-Signature"] = sign_with("wrong")
        assert httpx.post(f"{url}/v1/integrations/coral", content=raw, headers=headers, timeout=60).status_code == 401


def sign_with(secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), b"other body", hashlib.sha256).hexdigest()
