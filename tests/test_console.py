"""The moderator's console over the real app and a real SQLite file: sessions, CSRF, site isolation, and
decisions that land in the feedback store and the audit log."""

import re
from pathlib import Path

import pytest

from serve.auth import AuthConfigError
from storage import MODERATOR_POLICY, QueueQuery, Store
from storage.export import training_rows
from tests.console_helpers import (
    ADMIN_KEY,
    ARTICLE,
    HOLD_ALL,
    KEYS,
    MOD_A,
    MOD_B,
    PREDICT_KEY,
    SHADOW_REJECT_ALL,
    csrf_of,
    predict,
    sign_in,
    write,
)
from tests.service_app import service

HOSTILE = '<script>alert("x")</script> you idiot, <img src=x onerror=alert(1)> buy now'


@pytest.fixture()
def svc(tmp_path, tiny_loaded, tiny_model_dir):
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, policy_file=write(tmp_path, HOLD_ALL)) as c:
        yield c


def store_of(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")


# Sessions


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/console/queue"),
        ("get", "/console/readout"),
        ("post", "/console/decide"),
        ("post", "/console/sign-out"),
    ],
)
def test_every_page_sends_you_to_sign_in_without_a_session(svc, method, path):
    kwargs = {"data": {"csrf": "x", "one": "1:reject"}} if method == "post" else {}
    r = getattr(svc, method)(path, follow_redirects=False, **kwargs)
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in")
    # A forged or tampered cookie is no session either.
    svc.cookies.set("console_session", "eyJrIjoiIn0.AAAA", path="/console")
    r = getattr(svc, method)(path, follow_redirects=False, **kwargs)
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in")


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(svc):
    token = csrf_of(svc.get("/console/sign-in").text)
    r = svc.post("/console/sign-in", data={"key": MOD_A, "csrf": token}, follow_redirects=False)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("console_session="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
    assert "secure" not in cookie.lower()  # "auto" over plain HTTP
    assert MOD_A not in cookie  # the cookie holds a signed digest, never the key
    page = svc.get("/console/queue")
    assert page.status_code == 200 and "desk-a" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    r = svc.post("/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/console/sign-in"
    assert svc.get("/console/queue", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("mode", "base_url", "secure"),
    [
        ("auto", "https://testserver", True),
        ("always", "https://testserver", True),
        ("never", "https://testserver", False),
    ],
)
def test_secure_cookie_follows_the_setting(tmp_path, tiny_loaded, tiny_model_dir, mode, base_url, secure):
    from fastapi.testclient import TestClient

    from serve.app import create_app
    from serve.settings import Settings

    settings = Settings(
        model_dir=tiny_model_dir,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        api_keys=KEYS,
        console_secure_cookie=mode,
    )
    with TestClient(create_app(settings, tiny_loaded), base_url=base_url) as c:
        token = csrf_of(c.get("/console/sign-in").text)
        r = c.post("/console/sign-in", data={"key": MOD_A, "csrf": token}, follow_redirects=False)
        assert r.status_code == 303
        assert ("; secure" in r.headers["set-cookie"].lower()) is secure


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("", 400, "key: enter an API key"),
        ("no-such-key-0123456789", 401, "not a key this service knows"),
        (PREDICT_KEY, 403, "lacks the moderate scope"),
    ],
)
def test_sign_in_refuses_wrong_keys_saying_why(svc, key, status, message):
    token = csrf_of(svc.get("/console/sign-in").text)
    r = svc.post("/console/sign-in", data={"key": key, "csrf": token}, follow_redirects=False)
    assert r.status_code == status and message in r.text
    assert "console_session=" not in r.headers.get("set-cookie", "")


def test_an_admin_key_signs_in_too(svc):
    sign_in(svc, ADMIN_KEY)


def test_short_secret_is_refused_and_a_missing_one_is_logged(tmp_path, tiny_model_dir, caplog):
    from serve.app import create_app
    from serve.settings import Settings

    with pytest.raises(AuthConfigError, match="MODERATION_CONSOLE_SECRET is 8 characters; it must be at least 32"):
        create_app(Settings(model_dir=tiny_model_dir, console_secret="tooshort"))
    create_app(Settings(model_dir=tiny_model_dir))
    assert "console sessions end when the service restarts" in caplog.text


def test_a_session_survives_a_restart_with_a_configured_secret(tmp_path, tiny_loaded, tiny_model_dir):
    secret = "s" * 40
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, console_secret=secret) as c:
        sign_in(c, MOD_A)
        cookie = c.cookies.get("console_session")
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, console_secret=secret) as c:
        c.cookies.set("console_session", cookie, path="/console")
        assert c.get("/console/queue", follow_redirects=False).status_code == 200


# CSRF


def test_sign_in_without_its_csrf_token_is_refused(svc):
    svc.get("/console/sign-in")
    r = svc.post("/console/sign-in", data={"key": MOD_A}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF token is missing" in r.text
    assert "console_session=" not in r.headers.get("set-cookie", "")


def test_a_decision_without_its_csrf_token_is_refused_and_changes_nothing(svc, tmp_path):
    predict(svc, ["Great post, visit my site"], "site-a", ["c1"])
    good = sign_in(svc, MOD_A)
    store = store_of(tmp_path)
    (item,) = store.list_queue(QueueQuery()).items
    for data in ({"one": f"{item.id}:reject"}, {"one": f"{item.id}:reject", "csrf": good[:-2] + "xx"}):
        r = svc.post("/console/decide", data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF token is missing or does not belong to this session" in r.text
    assert store.count_queue(QueueQuery()) == 1 and list(store.iter_feedback()) == []
    # Another session's token does not fit this one.
    other = sign_in(svc, ADMIN_KEY)
    assert other != good


# The queue, decisions, feedback and audit


def test_a_held_comment_is_shown_escaped_and_a_decision_lands_in_feedback_and_audit(svc, tmp_path):
    answer = predict(svc, [HOSTILE], "site-a", ["c-hostile"])
    assert answer["results"][0]["action"] == "hold"
    token = sign_in(svc, MOD_A)
    page = svc.get("/console/queue").text
    assert "<script>alert" not in page and "<img src=x" not in page  # comment text is hostile: escaped
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert ARTICLE["title"] in page and "spam score" in page
    store = store_of(tmp_path)
    (item,) = store.list_queue(QueueQuery()).items
    assert item.phrases  # the explanation was computed for the held comment though predict did not ask
    r = svc.post("/console/decide", data={"csrf": token, "one": f"{item.id}:toxic", "back": "label=spam&x=evil"})
    assert r.status_code == 200 and "1 comment rejected as toxic." in r.text
    assert "label=spam" in str(r.url) and "evil" not in str(r.url)
    assert store.count_queue(QueueQuery()) == 0  # the text is gone with the decision
    (feedback,) = list(store.iter_feedback())
    assert (feedback.comment_id, feedback.label, feedback.moderator_id, feedback.site_id) == (
        "c-hostile",
        "toxic",
        "desk-a",
        "site-a",
    )
    assert feedback.text == HOSTILE and feedback.article_title == ARTICLE["title"]
    # What `training.fit --feedback` / `training.export_feedback` read.
    (row,) = list(training_rows(store))
    assert (row["label"], row["text"], row["source"]) == ("toxic", HOSTILE, "feedback")
    model, moderator = store.list_audit("c-hostile")
    assert (model.decided_action, model.policy_version) == ("hold", "test-hold-all")
    assert (moderator.policy_version, moderator.label, moderator.action) == (MODERATOR_POLICY, "toxic", "reject")
    assert moderator.scores == model.scores and "desk-a" in moderator.reasons[0]


def test_bulk_decisions_and_a_second_decision_on_the_same_comment(svc, tmp_path):
    predict(svc, ["first comment here", "second comment here", "third one"], "site-a", ["b1", "b2", "b3"])
    token = sign_in(svc, MOD_A)
    store = store_of(tmp_path)
    ids = [str(q.id) for q in store.list_queue(QueueQuery()).items]
    r = svc.post("/console/decide", data={"csrf": token, "choice": "approve", "ids": ids[:2]})
    assert "2 comments approved." in r.text
    r = svc.post("/console/decide", data={"csrf": token, "choice": "reject", "ids": ids[:1]})
    assert "0 comments rejected. 1 had already been decided" in r.text
    assert sorted(f.label for f in store.iter_feedback()) == ["substantive", "substantive"]
    r = svc.post("/console/decide", data={"csrf": token, "choice": "delete"}, follow_redirects=False)
    assert r.status_code == 400 and "choice: expected one of approve, reject, spam, toxic, substantive" in r.text
    r = svc.post("/console/decide", data={"csrf": token, "choice": "reject"}, follow_redirects=False)
    assert r.status_code == 400 and "ids: select 1 to 200 comments" in r.text


def test_keys_tied_to_sites_see_and_decide_only_those_sites(svc, tmp_path):
    predict(svc, ["comment for site a"], "site-a", ["a1"])
    predict(svc, ["comment for site b"], "site-b", ["b1"])
    predict(svc, ["comment without a site"], None, ["n1"])
    store = store_of(tmp_path)
    b_item = store.list_queue(QueueQuery(site="site-b")).items[0]
    token = sign_in(svc, MOD_A)
    page = svc.get("/console/queue").text
    assert "comment for site a" in page and "comment for site b" not in page and "without a site" not in page
    r = svc.get("/console/queue", params={"site": "site-b"})
    assert (
        r.status_code == 400 and "site: this key may see site-a only" in r.text and "comment for site b" not in r.text
    )
    r = svc.post("/console/decide", data={"csrf": token, "one": f"{b_item.id}:reject"}, follow_redirects=False)
    assert r.status_code == 403 and "belong to a site this key may not moderate" in r.text
    assert store.count_queue(QueueQuery(site="site-b")) == 1 and list(store.iter_feedback()) == []
    readout = svc.get("/console/readout", params={"site": "site-b"})
    assert readout.status_code == 400 and "site: this key may see site-a only" in readout.text

    svc.cookies.clear()
    sign_in(svc, MOD_B)
    page = svc.get("/console/queue").text
    assert "comment for site b" in page and "comment for site a" not in page
    svc.cookies.clear()
    sign_in(svc, ADMIN_KEY)
    page = svc.get("/console/queue").text
    assert all(t in page for t in ("comment for site a", "comment for site b", "comment without a site"))


def test_filters_search_and_paging(svc, tmp_path):
    predict(svc, [f"comment number {i} about the library" for i in range(55)], "site-a", [f"p{i}" for i in range(55)])
    predict(svc, ["a 100% unique text"], "site-a", ["special"])
    sign_in(svc, ADMIN_KEY)
    first = svc.get("/console/queue").text
    assert first.count('class="item"') == 50 and "a 100% unique text" in first
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older
    second = svc.get(older.group(1).replace("&amp;", "&")).text
    assert second.count('class="item"') == 6 and 'rel="prev"' in second and 'rel="next"' not in second
    found = svc.get("/console/queue", params={"q": "100%"}).text
    assert found.count('class="item"') == 1
    assert svc.get("/console/queue", params={"label": "toxic"}).text.count('class="item"') == 0
    assert svc.get("/console/queue", params={"action": "hold", "label": "spam"}).text.count('class="item"') == 50


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since: expected a date as YYYY-MM-DD; found &#39;yesterday&#39;"),
        ({"label": "rude"}, "label: expected one of spam, toxic, substantive"),
        ({"action": "delete"}, "action: expected hold or reject"),
        ({"before": "abc"}, "before: expected a page cursor"),
    ],
)
def test_bad_filters_are_named(svc, params, message):
    sign_in(svc, ADMIN_KEY)
    r = svc.get("/console/queue", params=params)
    assert r.status_code == 400 and message in r.text


# Storage rules: what is queued, and for how long


def test_shadow_mode_queues_what_would_have_been_rejected(tmp_path, tiny_loaded, tiny_model_dir):
    policy = write(tmp_path, SHADOW_REJECT_ALL)
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, policy_file=policy) as c:
        assert predict(c, ["hello there"], "site-a", ["s1"])["results"][0]["action"] == "approve"
    (item,) = store_of(tmp_path).list_queue(QueueQuery()).items
    assert (item.action, item.decided_action, item.shadow) == ("approve", "reject", True)


def test_approved_comments_are_not_queued(tmp_path, tiny_loaded, tiny_model_dir):
    from tests.service_app import APPROVE_ALL

    policy = write(tmp_path, APPROVE_ALL)
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, policy_file=policy) as c:
        predict(c, ["hello there"], "site-a", ["ok1"])
    assert store_of(tmp_path).count_queue(QueueQuery()) == 0


def test_retention_zero_keeps_no_text_and_purges_what_was_kept(tmp_path, tiny_loaded, tiny_model_dir):
    policy = write(tmp_path, HOLD_ALL)
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, policy_file=policy) as c:
        predict(c, ["kept for now"], "site-a", ["r1"])
    assert store_of(tmp_path).count_queue(QueueQuery()) == 1
    with service(tmp_path, tiny_loaded, tiny_model_dir, api_keys=KEYS, policy_file=policy, queue_retention_days=0) as c:
        predict(c, ["never kept"], "site-a", ["r2"])
    # The purge at start-up deleted the old text; the new one was never written.
    assert store_of(tmp_path).count_queue(QueueQuery()) == 0


# The readout


def test_readout_shows_decisions_agreement_and_a_what_if(svc):
    predict(svc, ["one comment", "another comment", "third comment"], "site-a", ["r1", "r2", "r3"])
    token = sign_in(svc, ADMIN_KEY)
    page = svc.get("/console/queue").text
    ids = re.findall(r'name="ids" value="(\d+)"', page)
    svc.post("/console/decide", data={"csrf": token, "choice": "spam", "ids": ids[:2]})
    svc.post("/console/decide", data={"csrf": token, "choice": "approve", "ids": ids[2:]})
    r = svc.get("/console/readout")
    assert r.status_code == 200
    assert "<svg" in r.text and "site-a" in r.text
    assert "On the 3 comments moderators decided" in r.text
    assert "67% of 3" in r.text  # hold at the current thresholds: 2 of 3 confirmed
    what_if = svc.get("/console/readout", params={"spam_hold": "1", "spam_reject": "1"})
    assert what_if.status_code == 200 and "–</td>" in what_if.text and "0 of 0" not in what_if.text[:0]
    bad = svc.get("/console/readout", params={"days": "0", "spam_hold": "high"})
    assert bad.status_code == 400
    assert "days: expected a whole number from 1 to 90" in bad.text
    assert "spam_hold: expected a number from 0 to 1" in bad.text


# Pieces


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"scopes": ["moderate"], "sites": []}, "API key #1 has sites []; expected a non-empty list of site ids"),
        ({"scopes": ["moderate"], "sites": "news.example"}, "expected a non-empty list of site ids"),
        ({"scopes": ["moderate"], "site": ["a"]}, "unknown fields ['site']"),
    ],
)
def test_key_sites_are_checked_at_start(spec, message):
    from serve.auth import load_keyring
    from serve.settings import Settings

    with pytest.raises(AuthConfigError) as e:
        load_keyring(Settings(api_keys={MOD_A: spec}))
    assert message in str(e.value) and MOD_A not in str(e.value)


def test_phrases_are_marked_as_whole_words_in_any_case():
    from serve.console.highlight import Segment, segments

    text = "You IDIOT, idiotic you. Visit my site"
    got = segments(
        text, {"toxic": ["idiot", "you"], "spam": ["visit my site", "my"], "substantive": ["site"]}, ("toxic", "spam")
    )
    assert got == [
        Segment("You", "toxic"),
        Segment(" ", None),
        Segment("IDIOT", "toxic"),
        Segment(", idiotic ", None),
        Segment("you", "toxic"),
        Segment(". ", None),
        Segment("Visit my site", "spam"),  # the longer phrase wins over "my" inside it
    ]
    assert "".join(s.text for s in got) == text
