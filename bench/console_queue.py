"""How fast the console's queue pages with 10,000 held comments in SQLite (target: under 200 ms a page).

    HF_HUB_OFFLINE=1 python bench/console_queue.py [--model-dir models/default] [--held 10000]

Fills a fresh SQLite file with `--held` queued comments (invented text, three sites, ten days), plus as many
audit entries and a fifth as many moderator decisions for the readout; starts `python -m serve` on loopback
over it; signs in through the console's form; then times, over real HTTP, each page of:
- the whole queue, newest first, followed page by page through the "Older" links to the end;
- one site's queue (a key tied to it sees this); a label filter; a text search (a scan: no index helps);
- the readout ("what the model would have done") over 14 days.
Writes bench/results/console-queue.{json,md}. A benchmark, not a test: nothing fails on a slow machine.
"""

import argparse
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import MODERATOR_POLICY, AuditEntry, QueuedIn, Store  # noqa: E402
from tests.live import start  # noqa: E402

KEY = "mk-bench-0123456789abcdef-lead"
SITES = ("news.example", "blog.example", "forum.example")
WORDS = [
    "library",
    "council",
    "sunday",
    "vote",
    "budget",
    "idiot",
    "cheap",
    "watches",
    "visit",
    "site",
    "great",
    "post",
    "stupid",
    "hours",
    "parents",
]
TARGET_MS = 200.0


def fill(url: str, held: int) -> None:
    rng = random.Random(7)
    store = Store(url)
    now = datetime.now(UTC)
    batch: list[QueuedIn] = []
    audit: list[AuditEntry] = []
    for i in range(held):
        site = SITES[i % len(SITES)]
        flagged = "toxic" if i % 2 else "spam"
        scores = {"spam": round(rng.random(), 3), "toxic": round(rng.random(), 3), "substantive": 0.1}
        when = now - timedelta(seconds=(held - i) * 86400 * 10 / held)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
        batch.append(
            QueuedIn(
                comment_id=f"bench-{i}",
                site_id=site,
                text=text,
                label=flagged,
                flagged=flagged,
                action="hold",
                decided_action="hold",
                shadow=False,
                scores=scores,
                reasons=[f"{flagged} score {scores[flagged]:.2f} >= hold threshold 0.50"],
                phrases={flagged: rng.sample(WORDS, 3)},
                model_version="bench",
                policy_version="bench-1",
                article_id=f"article-{i % 50}",
                article_title=f"Article {i % 50}",
                article_body="Body of the article.",
                created_at=when,
            )
        )
        audit.append(
            AuditEntry(f"bench-{i}", "bench", scores, flagged, "hold", "hold", "bench-1", False, [], site, None, when)
        )
        if i % 5 == 0:
            label = rng.choice(["spam", "toxic", "substantive"])
            audit.append(
                AuditEntry(
                    f"bench-{i}",
                    "bench",
                    scores,
                    label,
                    "reject",
                    "reject",
                    MODERATOR_POLICY,
                    False,
                    [],
                    site,
                    None,
                    when,
                )
            )
        if len(batch) == 1000:
            store.add_to_queue(batch)
            store.add_audit(audit)
            batch, audit = [], []
    if batch:
        store.add_to_queue(batch)
        store.add_audit(audit)
    store.close()


def timed(client: httpx.Client, path: str) -> tuple[float, str]:
    start_s = time.perf_counter()
    r = client.get(path)
    elapsed = (time.perf_counter() - start_s) * 1000
    r.raise_for_status()
    return elapsed, r.text


def walk(client: httpx.Client, first: str) -> tuple[list[float], int]:
    """Every page from `first` through the Older links; (ms per page, items seen)."""
    times, seen, path = [], 0, first
    while path:
        ms, html = timed(client, path)
        times.append(ms)
        seen += html.count('class="item"')
        older = re.search(r'href="([^"]+)" rel="next"', html)
        path = older.group(1).replace("&amp;", "&") if older else ""
    return times, seen


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "pages": len(times),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'moderation.sqlite3'}"
        t0 = time.perf_counter()
        fill(url, args.held)
        print(f"filled {args.held} queued comments in {time.perf_counter() - t0:.1f} s")
        live = start(
            args.model_dir,
            workdir,
            env={"MODERATION_API_KEYS": json.dumps({KEY: {"scopes": ["moderate"], "name": "lead"}})},
        )
        try:
            with httpx.Client(base_url=live.url, timeout=60) as client:
                token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/sign-in").text)
                assert token, "no CSRF token on the sign-in page"
                client.post("/console/sign-in", data={"key": KEY, "csrf": token.group(1)})
                timed(client, "/console/queue")  # warm: templates compiled, connections open
                times, seen = walk(client, "/console/queue")
                assert seen == args.held, f"paged through {seen} of {args.held} comments"
                results["whole queue, every page"] = summary(times)
                results["one site, every page"] = summary(walk(client, "/console/queue?site=news.example")[0])
                results["label filter, first page 20 times"] = summary(
                    [timed(client, "/console/queue?label=toxic")[0] for _ in range(20)]
                )
                results["text search, 20 times"] = summary(
                    [timed(client, "/console/queue?q=budget+idiot")[0] for _ in range(20)]
                )
                results["readout, 14 days, 10 times"] = summary(
                    [timed(client, "/console/readout")[0] for _ in range(10)]
                )
        finally:
            live.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "held": args.held,
        "database": "SQLite (WAL, one file)",
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "target_ms": TARGET_MS,
    }
    (args.out / "console-queue.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = [
        "# Console queue: time per page with 10,000 held comments",
        "",
        f"`HF_HUB_OFFLINE=1 python bench/console_queue.py --held {args.held}`, {meta['date']}, {meta['machine']}, "
        f"{meta['database']}; real HTTP to `python -m serve` on loopback, signed in through the console's form. "
        "Pages of 50, keyset paging (ids), newest first. Target: under 200 ms a page.",
        "",
        "| what | pages | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(f"| {name} | {row['pages']:.0f} | {row['median_ms']} | {row['p95_ms']} | {row['max_ms']} |")
    worst = max(row["p95_ms"] for name, row in results.items() if "readout" not in name)
    verdict = "meets" if worst < TARGET_MS else "misses"
    lines += ["", f"Worst queue p95: {worst} ms: {verdict} the {TARGET_MS:.0f} ms target.", ""]
    (args.out / "console-queue.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
