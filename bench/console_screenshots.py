"""Screenshots of the moderator's console for the docs: docs/console-queue.png, docs/console-queue-phone.png
and docs/console-readout.png.

    HF_HUB_OFFLINE=1 python bench/console_screenshots.py [--model-dir models/default] [--out docs]
    make console-screenshots

Starts `python -m serve` on loopback with the shipped model, a temporary database and a demonstration policy
(news.example enforced, blog.example in shadow mode), sends the invented comments below through /v1/predict,
has a moderator decide some of them through the console's own forms (so the readout has agreement to show),
then photographs the pages in headless Debian Chromium (tests/browser.py). No data from ../shared is used.
"""

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import Browser  # noqa: E402
from tests.live import start  # noqa: E402

LEAD_KEY = "mk-demo-0123456789abcdef-lead"
PREDICT_KEY = "pk-demo-0123456789abcdef-site"
KEYS = {
    LEAD_KEY: {"scopes": ["moderate"], "name": "lead"},
    PREDICT_KEY: {"scopes": ["predict"], "name": "site-backend"},
}
# Rejects only the surest cases, so the queue has something to show.
POLICY = """
version = "demo-1"
[thresholds.spam]
hold = 0.6
reject = 0.999
[thresholds.toxic]
hold = 0.5
reject = 0.999
[sites."blog.example"]
shadow = true
"""
ARTICLES = {
    "news.example": ("Council votes to close the central library on Sundays", "The council voted 5-2 on Tuesday..."),
    "blog.example": ("Ten tips for a greener garden", "Mulch, compost and native plants..."),
}
# Invented for this script.
COMMENTS = [
    ("news.example", "Anyone who supports this closure is a moron"),
    ("news.example", "Great article! Check out my site for cheap watches www.cheap-watches.example"),
    ("news.example", "Only an idiot would vote for this, you people are stupid"),
    ("news.example", "Thanks for sharing, very informative post"),
    ("news.example", "What a stupid decision by these clowns on the council"),
    ("news.example", "Earn $500 a day from home, message me for details"),
    ("news.example", "The Sunday hours were the only time working parents could go. Shame."),
    ("news.example", "Nice post <b>bold</b> <script>alert('hi')</script> visit my blog"),
    ("blog.example", "Compost is overrated, you gardening snobs are insufferable"),
    ("blog.example", "Lovely tips!! Follow me for more garden content"),
    ("blog.example", "Do native plants really need less water in clay soil?"),
    ("blog.example", "Buy organic fertiliser at 50% off today only"),
]
DECISIONS = {0: "toxic", 1: "spam", 3: "approve", 5: "spam", 9: "spam", 11: "reject"}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "policy.toml").write_text(POLICY, encoding="utf-8")
        env = {"MODERATION_API_KEYS": json.dumps(KEYS), "MODERATION_POLICY_FILE": str(workdir / "policy.toml")}
        live = start(args.model_dir, workdir, env=env)
        try:
            for i, (site, text) in enumerate(COMMENTS):
                title, body = ARTICLES[site]
                request = {
                    "site_id": site,
                    "article": {"title": title, "body": body},
                    "comments": [{"id": f"demo-{i}", "text": text}],
                }
                r = httpx.post(f"{live.url}/v1/predict", json=request, headers={"X-API-Key": PREDICT_KEY}, timeout=60)
                r.raise_for_status()
            decide_some(live.url)
            with Browser(width=1100) as browser:
                browser.goto(f"{live.url}/console/sign-in")
                browser.js(f"document.getElementById('key').value = {json.dumps(LEAD_KEY)}")
                browser.navigates(lambda: browser.js("document.querySelector('main form button[type=submit]').click()"))
                browser.screenshot(args.out / "console-queue.png", width=1100)
                browser.screenshot(args.out / "console-queue-phone.png", width=390, full_page=False)
                browser.goto(f"{live.url}/console/readout")
                browser.screenshot(args.out / "console-readout.png", width=1100)
        finally:
            live.stop()
    for name in ("console-queue.png", "console-queue-phone.png", "console-readout.png"):
        print(f"wrote {args.out / name}")
    return 0


def decide_some(url: str) -> None:
    """A moderator's decisions through the console's forms, as a browser would send them."""
    with httpx.Client(base_url=url, timeout=60) as client:
        token = _csrf(client.get("/console/sign-in").text)
        client.post("/console/sign-in", data={"key": LEAD_KEY, "csrf": token})
        page = client.get("/console/queue").text
        token = _csrf(page)
        ids = {cid: qid for qid, cid in re.findall(r'id="sel-(\d+)" aria-label="Select comment ([^"]+)"', page)}
        for index, choice in DECISIONS.items():
            queued = ids.get(f"demo-{index}")
            if queued is not None:
                client.post("/console/decide", data={"csrf": token, "one": f"{queued}:{choice}"})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no CSRF token on the console page")
    return found.group(1)


if __name__ == "__main__":
    sys.exit(main())
