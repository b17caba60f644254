"""Shared by the console's tests: keys, a policy that holds every comment, and signing in through the form."""

import re
from pathlib import Path

# Every comment's spam score reaches 0.0: everything is held (flagged spam), nothing rejected.
HOLD_ALL = """
version = "test-hold-all"
[thresholds.spam]
hold = 0.0
reject = 1.0
[thresholds.toxic]
hold = 1.0
reject = 1.0
"""
# Shadow mode, rejecting everything: the client is told approve; the queue gets what would have been rejected.
SHADOW_REJECT_ALL = """
version = "test-shadow"
shadow = true
[thresholds.spam]
hold = 0.0
reject = 0.0
"""

PREDICT_KEY = "pk-0123456789abcdef-predict"
MOD_A = "mk-0123456789abcdef-desk-a"  # tied to site-a
MOD_B = "mk-0123456789abcdef-desk-b"  # tied to site-b
ADMIN_KEY = "ak-0123456789abcdef-admin"
KEYS = {
    PREDICT_KEY: {"scopes": ["predict"], "name": "site-backend"},
    MOD_A: {"scopes": ["moderate"], "name": "desk-a", "sites": ["site-a"]},
    MOD_B: {"scopes": ["moderate"], "name": "desk-b", "sites": ["site-b"]},
    ADMIN_KEY: {"scopes": ["admin"], "name": "lead"},
}
ARTICLE = {"title": "Council votes to close the library on Sundays", "body": "The council voted 5-2 on Tuesday."}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, f"no CSRF token on the page:\n{html[:2000]}"
    return found.group(1)


def sign_in(client, key: str) -> str:
    """Sign in through the form (signed out first); returns the CSRF token of the first page after it."""
    client.cookies.clear()
    token = csrf_of(client.get("/console/sign-in").text)
    r = client.post("/console/sign-in", data={"key": key, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/queue", r.text
    page = client.get("/console/queue")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def predict(client, texts: list[str], site: str | None, ids: list[str]) -> dict:
    body: dict = {"comments": [{"id": i, "text": t} for i, t in zip(ids, texts, strict=True)], "article": ARTICLE}
    if site is not None:
        body["site_id"] = site
    r = client.post("/v1/predict", json=body, headers={"Authorization": f"Bearer {PREDICT_KEY}"})
    assert r.status_code == 200, r.text
    return r.json()
