"""Latency of POST /v1alpha1/comments:analyze beside a one-comment POST /v1/predict, on one real server.

    HF_HUB_OFFLINE=1 python bench/perspective_latency.py [--model-dir models/default] [--n 300]

Writes bench/results/perspective-latency.md. One `python -m serve` on loopback serving the model; one
keep-alive client; the same comments (data/comments.jsonl) sent both ways, interleaved: for each comment one
predict and one analyze, the order swapped every other comment, so drift in the machine (another process, a
cache warming) lands on both sides alike. A warm-up of both kinds first, untimed. Each side is called as its
clients call it: predict with X-API-Key and `{"comments": [{"text"}]}`, analyze with `?key=` and Coral's body
(TOXICITY, languages, without doNotStore so that both are audited and remembered alike).
Target (issue 21): analyze's median and p95 within 10% of predict's. Run it on an otherwise idle machine.
"""

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import start  # noqa: E402  (the same real-server starter the tests use)

RESULTS = ROOT / "bench" / "results"
KEY = "bench-perspective-key-0123456789abcdef"
WARMUP = 30
TARGET = 1.10


KINDS = ("predict", "analyze", "analyze_all")
ALL_ATTRIBUTES = (
    "TOXICITY",
    "SEVERE_TOXICITY",
    "INSULT",
    "PROFANITY",
    "THREAT",
    "IDENTITY_ATTACK",
    "SPAM",
    "UNSUBSTANTIAL",
)


def comments(n: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "data" / "comments.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = sorted({r["text"] for r in rows if r["text"].strip()})
    random.Random(0).shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"data/comments.jsonl has {len(texts)} distinct comments; ask for at most that many")
    return texts[:n]


def timed(client: httpx.Client, kind: str, text: str) -> float:
    if kind == "predict":
        request = client.build_request("POST", "/v1/predict", json={"comments": [{"text": text}]})
    else:
        body: dict = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]}
        if kind == "analyze_all":  # every attribute, with spans: the heads and the span model run too
            body = {**body, "requestedAttributes": {a: {} for a in ALL_ATTRIBUTES}, "spanAnnotations": True}
        request = client.build_request("POST", "/v1alpha1/comments:analyze", json=body, params={"key": KEY})
    started = time.perf_counter()
    r = client.send(request)
    elapsed = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        raise SystemExit(f"{kind} answered {r.status_code}: {r.text[:300]}")
    return elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(model_dir: Path, n: int) -> dict[str, dict[str, float]]:
    texts = comments(n + WARMUP)
    warm, timed_texts = texts[:WARMUP], texts[WARMUP:]
    keys = {KEY: {"scopes": ["predict"], "name": "bench"}}
    with tempfile.TemporaryDirectory() as workdir:
        live = start(model_dir, Path(workdir), env={"MODERATION_API_KEYS": json.dumps(keys)})
        try:
            with httpx.Client(base_url=live.url, headers={"X-API-Key": KEY}, timeout=60) as client:
                for text in warm:
                    for kind in KINDS:
                        timed(client, kind, text)
                times: dict[str, list[float]] = {kind: [] for kind in KINDS}
                for i, text in enumerate(timed_texts):
                    order = KINDS[i % 3 :] + KINDS[: i % 3]  # each kind first, second and last in turn
                    for kind in order:
                        times[kind].append(timed(client, kind, text))
        finally:
            live.stop()
    return {k: {"median_ms": statistics.median(v), "p95_ms": p95(v), "n": len(v)} for k, v in times.items()}


def report(figures: dict[str, dict[str, float]], command: str, note: str) -> str:
    p, a, every = figures["predict"], figures["analyze"], figures["analyze_all"]
    ratio_median, ratio_p95 = a["median_ms"] / p["median_ms"], a["p95_ms"] / p["p95_ms"]
    verdict = "met" if max(ratio_median, ratio_p95) <= TARGET else "NOT met"
    return "\n".join(
        [
            "# comments:analyze beside a one-comment /v1/predict",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {note}",
            "",
            "One `python -m serve` on loopback with the shipped model; one keep-alive httpx client; each time is a",
            "request's wall time at the client. The same comments both ways, interleaved (order swapped every other",
            'comment) after a warm-up: predict as `{"comments": [{"text"}]}` with X-API-Key, analyze with Coral\'s',
            "body (`requestedAttributes: {TOXICITY: {}}`, `languages: [en]`) and `?key=`. Both are audited.",
            "",
            "| route | n | median ms | p95 ms |",
            "|---|---|---|---|",
            f"| POST /v1/predict (one comment) | {p['n']} | {p['median_ms']:.2f} | {p['p95_ms']:.2f} |",
            f"| POST /v1alpha1/comments:analyze | {a['n']} | {a['median_ms']:.2f} | {a['p95_ms']:.2f} |",
            f"| analyze / predict | | {ratio_median:.3f} | {ratio_p95:.3f} |",
            f"| POST /v1alpha1/comments:analyze, all 8 attributes + spans | {every['n']} | {every['median_ms']:.2f} | "
            f"{every['p95_ms']:.2f} |",
            f"| all attributes / predict | | {every['median_ms'] / p['median_ms']:.3f} | "
            f"{every['p95_ms'] / p['p95_ms']:.3f} |",
            "",
            f"Target (analyze within 10% of predict, median and p95): {verdict}. The target is for the body clients",
            "send (Coral's: TOXICITY alone); asking every attribute with spans adds the attribute heads and the span",
            "model, on the embedding /v1/predict computed anyway.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--note", default="", help="the machine, for the report (cores, what else ran)")
    parser.add_argument("--out", type=Path, default=RESULTS / "perspective-latency.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = run(args.model_dir, args.n)
    # The 1-minute load average around the run: other processes on the same cores inflate both sides.
    load = (
        f"{os.cpu_count()} CPUs; 1-minute load average {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after"
    )
    command = "HF_HUB_OFFLINE=1 python " + shlex.join(["bench/perspective_latency.py", *sys.argv[1:]])
    text = report(figures, command, "; ".join(filter(None, [args.note, load])))
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
