"""End to end in headless Debian Chromium: a real server (uvicorn on loopback, the shipped model, a SQLite
file), a comment /v1/predict holds, a moderator who signs in, sees it, and rejects it with the keyboard; then
the feedback row and the audit entry are read from the database file."""

import json

import httpx
import pytest

from storage import MODERATOR_POLICY, QueueQuery, Store
from tests.browser import CHROMIUM, Browser
from tests.console_helpers import ARTICLE, write
from tests.live import start

pytestmark = pytest.mark.slow  # a browser and a server process

MOD_KEY = "mk-0123456789abcdef-browser"
PREDICT_KEY = "pk-0123456789abcdef-browser"
KEYS = {
    MOD_KEY: {"scopes": ["moderate"], "name": "desk-e2e", "sites": ["news.example"]},
    PREDICT_KEY: {"scopes": ["predict"], "name": "site-backend"},
}
# The default policy's toxic hold, with the reject threshold out of reach, so a clearly toxic comment is held
# (the shipped model scores this one about 0.86 toxic) rather than rejected outright.
POLICY = """
version = "e2e-hold-toxic"
[thresholds.toxic]
hold = 0.5
reject = 0.99
[thresholds.spam]
hold = 0.99
reject = 1.0
"""
TOXIC = "Anyone who supports this closure is a moron"


@pytest.fixture(scope="module")
def chromium_installed() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `make chromium` installs Debian's chromium (as root)")


def test_a_moderator_rejects_a_held_comment_with_the_keyboard(chromium_installed, default_model_dir, tmp_path):
    env = {"MODERATION_API_KEYS": json.dumps(KEYS), "MODERATION_POLICY_FILE": str(write(tmp_path, POLICY))}
    live = start(default_model_dir, tmp_path, env=env)
    try:
        body = {"site_id": "news.example", "article": ARTICLE, "comments": [{"id": "e2e-1", "text": TOXIC}]}
        answer = httpx.post(f"{live.url}/v1/predict", json=body, headers={"X-API-Key": PREDICT_KEY}, timeout=60).json()
        assert answer["results"][0]["action"] == "hold", answer

        with Browser() as browser:
            browser.goto(f"{live.url}/console/queue")
            assert browser.js("location.pathname") == "/console/sign-in"  # no session: sent to sign in
            browser.js(f"document.getElementById('key').value = {json.dumps(MOD_KEY)}")
            browser.navigates(lambda: browser.js("document.querySelector('main form button[type=submit]').click()"))
            assert browser.js("location.pathname") == "/console/queue"
            page = browser.text()
            assert TOXIC in page and ARTICLE["title"] in page and "desk-e2e" in page
            assert browser.js("document.querySelectorAll('.queue .item').length") == 1
            assert browser.js("document.querySelector('.queue .item mark') !== null")  # the phrases are marked
            browser.navigates(lambda: browser.press("r"))  # reject the focused (first) comment
            assert "1 comment rejected." in browser.text()
            assert browser.js("document.querySelectorAll('.queue .item').length") == 0
    finally:
        live.stop()

    store = Store(f"sqlite:///{tmp_path / 'moderation.sqlite3'}")
    try:
        (feedback,) = list(store.iter_feedback())
        assert (feedback.comment_id, feedback.text, feedback.label, feedback.moderator_id, feedback.site_id) == (
            "e2e-1",
            TOXIC,
            "toxic",
            "desk-e2e",
            "news.example",
        )
        model, moderator = store.list_audit("e2e-1")
        assert (model.decided_action, model.policy_version) == ("hold", "e2e-hold-toxic")
        assert (moderator.policy_version, moderator.action, moderator.label) == (MODERATOR_POLICY, "reject", "toxic")
        assert store.count_queue(QueueQuery()) == 0  # the text went with the decision
    finally:
        store.close()
