"""Hostile comment text: the slowest shapes, beside ordinary text of the same length, over real HTTP.

    HF_HUB_OFFLINE=1 python bench/adversarial.py [--model-dir models/current] [--chars 10000] [--repeat 3]

Starts `python -m serve` on loopback (a temporary database, rate limit off) and, side by side in one run:
1. for each shape (repeated separators, dots, dashes, "@", slashes, "<", digits, mixed scripts, ...), a
   comment of `--chars` characters sent to /v1/predict, with and without `explain`, `--repeat` times; the
   median latency and its ratio to an ordinary comment of the same length;
2. meanwhile a second client polls /healthz every 20 ms; its worst answer is reported per shape, since a
   comment that holds the event loop shows up there first;
3. the same shapes through the model library alone (normalize and predict, no HTTP), in ms per KB.
Writes bench/results/adversarial.{json,md}. Shapes come from tests/test_linear_text.py, which guards the
same property without timing anything.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model import Comment, load_model, normalize  # noqa: E402
from tests.shapes import SHAPES, ordinary  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_RATIO = 3.0  # issue: every shape within 3x an ordinary comment of the same length
HEALTHZ_TARGET_MS = 50.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MODERATION_DATABASE_URL": f"sqlite:///{work / 'moderation.sqlite3'}",
        "MODERATION_RATE_LIMIT_PER_MINUTE": "0",
    }
    cmd = [sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir)]
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not start; see {work / 'server.log'}")


class HealthPoller:
    """Polls /healthz from its own thread and keeps the slowest answer since the last reset."""

    def __init__(self, url: str) -> None:
        self.url, self.worst_ms, self.stop = url, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                client.get(f"{self.url}/healthz")
                self.worst_ms = max(self.worst_ms, (time.perf_counter() - started) * 1000)
                time.sleep(0.02)

    def reset(self) -> None:
        self.worst_ms = 0.0


def over_http(url: str, texts: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    poller = HealthPoller(url)
    poller.thread.start()
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=600) as client:
        client.post(f"{url}/v1/predict", json={"comments": [{"text": "warm up"}], "explain": True})
        for name, text in texts.items():
            row: dict[str, float] = {}
            for explain in (False, True):
                times = []
                poller.reset()
                for _ in range(repeat):
                    started = time.perf_counter()
                    r = client.post(f"{url}/v1/predict", json={"comments": [{"text": text}], "explain": explain})
                    times.append((time.perf_counter() - started) * 1000)
                    if r.status_code != 200:
                        raise SystemExit(f"{name}: HTTP {r.status_code} {r.text[:300]}")
                row["explain_ms" if explain else "predict_ms"] = statistics.median(times)
                row["healthz_worst_ms"] = max(row.get("healthz_worst_ms", 0.0), poller.worst_ms)
            out[name] = row
            print(
                f"{name:>14}: predict {row['predict_ms']:8.1f} ms, explain {row['explain_ms']:8.1f} ms, "
                f"healthz worst {row['healthz_worst_ms']:6.1f} ms",
                flush=True,
            )
    poller.stop.set()
    return out


def in_process(model_dir: Path, texts: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    model = load_model(model_dir)
    model.estimator.predict_proba([Comment("warm up")])
    out = {}
    for name, text in texts.items():
        kb = len(text.encode()) / 1024
        row = {}
        stages: dict[str, Callable[[str], object]] = {
            "normalize": lambda t: normalize(t + " "),  # a new string, so the cache does not answer
            "model": lambda t: model.estimator.predict_proba([Comment(t)]),
        }
        for stage, fn in stages.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                fn(text)
                times.append((time.perf_counter() - started) * 1000)
            row[f"{stage}_ms_per_kb"] = statistics.median(times) / kb
        out[name] = row
    return out


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "adversarial.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    http, lib = results["http"], results["library"]
    base = http["ordinary"]
    lines = [
        "# Hostile comment text, side by side with ordinary text",
        "",
        f"`{results['command']}` on {results['when']}; {results['chars']} characters each, median of "
        f"{results['repeat']}. Ratio: to an ordinary comment of the same length (target <= {TARGET_RATIO:g}x); "
        f"healthz: the slowest /healthz answer while that shape was being scored (target < {HEALTHZ_TARGET_MS:g} ms).",
        "",
        "| shape | predict ms | ratio | explain ms | ratio | healthz worst ms | normalize ms/KB | model ms/KB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(http.items(), key=lambda kv: -kv[1]["explain_ms"]):
        lines.append(
            f"| {name} | {row['predict_ms']:.1f} | {row['predict_ms'] / base['predict_ms']:.2f} | "
            f"{row['explain_ms']:.1f} | {row['explain_ms'] / base['explain_ms']:.2f} | {row['healthz_worst_ms']:.1f} | "
            f"{lib[name]['normalize_ms_per_kb']:.2f} | {lib[name]['model_ms_per_kb']:.2f} |"
        )
    lines += ["", "Verdict: " + results["verdict"], ""]
    (RESULTS / "adversarial.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/adversarial.py", description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "current")
    parser.add_argument("--chars", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not any((args.model_dir / name).is_file() for name in ("metadata.json", "model.json")):
        parser.error(f"{args.model_dir} holds no model; run `python -m training.fit` first")
    texts = {"ordinary": ordinary(args.chars), **{name: make(args.chars) for name, make in SHAPES.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(args.model_dir.resolve(), Path(tmp))
        try:
            http = over_http(url, texts, args.repeat)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    library = in_process(args.model_dir, texts, args.repeat)
    base = http["ordinary"]
    worst = max((n for n in http if n != "ordinary"), key=lambda n: http[n]["explain_ms"] / base["explain_ms"])
    ratio = max(http[worst]["explain_ms"] / base["explain_ms"], http[worst]["predict_ms"] / base["predict_ms"])
    health = max(r["healthz_worst_ms"] for r in http.values())
    ok = ratio <= TARGET_RATIO and health < HEALTHZ_TARGET_MS
    verdict = (
        f"{'met' if ok else 'NOT met'}: slowest shape {worst!r} at {ratio:.2f}x ordinary; "
        f"slowest /healthz {health:.1f} ms"
    )
    print(verdict)
    write(
        {
            "command": "python bench/adversarial.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "chars": args.chars,
            "repeat": args.repeat,
            "http": http,
            "library": library,
            "verdict": verdict,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
