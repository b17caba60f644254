"""The big fuzz run: schemathesis, every check, against a real `python -m serve` on loopback.

    python bench/fuzz.py                          # tiny model trained to a temp dir, 200 examples/operation
    python bench/fuzz.py --model-dir models/current --max-examples 500

Starts the server itself (loopback only, a temporary database), runs `schemathesis run` with all four phases
and every check, counts the HTTP requests the *server* answered (from its /metrics, so nothing the fuzzer
retried or dropped is miscounted), stops the server, and writes bench/results/fuzz.json: requests sent,
test cases, the failures by check and operation, and the schemathesis command to reproduce them.
tests/test_hostile_requests.py runs a small version of this with the checks that must never fail.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TINY = ROOT / "tests" / "fixtures" / "tiny.jsonl"
# Hard ceiling for the whole run; the fuzzer's own --max-time is set a little under it.
MAX_SECONDS = 1200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_model(model_dir: str | None, work: Path) -> Path:
    if model_dir:
        return Path(model_dir)
    out = work / "models"
    subprocess.run(
        [sys.executable, "-m", "training.fit", "--data", str(TINY), "--out", str(out)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return out / "current"


def start_server(model_dir: Path, work: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MODERATION_DATABASE_URL": f"sqlite:///{work / 'fuzz.sqlite3'}",
        "MODERATION_CORAL_SIGNING_SECRETS": json.dumps(["fuzz-secret-0123456789abcdef"]),
        "MODERATION_LOG_LEVEL": "warning",
        # The fuzzer is one client sending thousands of requests: with the rate limit on, most would be 429s.
        "MODERATION_RATE_LIMIT_PER_MINUTE": "0",
    }
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    cmd = [sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(work / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not become ready in 180 s")


def requests_answered(url: str) -> dict[str, int]:
    """Requests the server has answered, by status class, from its Prometheus counter."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out: dict[str, int] = {}
    for m in re.finditer(r'^moderation_http_requests_total\{.*status="(\d)\d\d".*\} ([0-9.e+]+)$', text, re.M):
        out[f"{m.group(1)}xx"] = out.get(f"{m.group(1)}xx", 0) + int(float(m.group(2)))
    return out


def run_fuzz(url: str, work: Path, max_examples: int, max_time: int, seed: int) -> tuple[dict[str, Any], str, list]:
    report = work / "schemathesis.json"
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--checks=all",
        f"--max-examples={max_examples}",
        f"--max-time={max_time}",
        f"--seed={seed}",
        "--workers=2",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--report=json",
        f"--report-json-path={report}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=MAX_SECONDS)
    (work / "schemathesis.txt").write_text(proc.stdout + proc.stderr)
    return json.loads(report.read_text()), proc.stdout, cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="model to serve (default: the tiny test model, trained to a temp dir)")
    parser.add_argument("--max-examples", type=int, default=200, help="test cases per operation and phase")
    parser.add_argument("--max-time", type=int, default=900, help="seconds for the fuzzer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        work = Path(tmp)
        model_dir = ensure_model(args.model_dir, work)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(model_dir, work, port)
        started = time.monotonic()
        try:
            before = requests_answered(url)
            report, stdout, cmd = run_fuzz(
                url, work, args.max_examples, min(args.max_time, MAX_SECONDS - 60), args.seed
            )
            after = requests_answered(url)
            alive = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=30)
        log = (work / "server.log").read_text(errors="replace")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # The human-readable failures, each with a curl line that reproduces it.
        shutil.copyfile(work / "schemathesis.txt", args.out.with_suffix(".txt"))

    answered = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))}
    answered = {k: v for k, v in answered.items() if v}
    summary = {
        "schemathesis": report["schemathesis_version"],
        "seed": args.seed,
        "max_examples_per_operation": args.max_examples,
        "seconds": round(time.monotonic() - started, 1),
        "operations_tested": report["operations"]["tested"],
        "test_cases": report["test_cases"]["generated"],
        # The /metrics scrapes around the run are not counted; the fuzzer's own /metrics calls are.
        "requests_answered_by_server": sum(answered.values()),
        "requests_by_status_class": answered,
        "server_alive_after": alive,
        "tracebacks_in_server_log": log.count("Traceback"),
        "failures": report["failures"],
        "errors": report["errors"],
        "command": " ".join(cmd[2:]),
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(stdout[-4000:])
    print(json.dumps({k: v for k, v in summary.items() if k not in {"failures", "errors"}}, indent=2))
    print(f"wrote {args.out} and {args.out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
