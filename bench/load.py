"""Load benchmark: the real server on loopback, driven at concurrency 1, 8 and 32 with single comments and
64-comment batches. Writes bench/results/load.json and load.md (RPS, comments/s, p50/p95/p99, errors).

    python bench/load.py                              # models/current (trained to a temp dir if absent)
    python bench/load.py --setups 1x1,1x2,2x1 --seconds 15   # workers x embedding threads to compare
    python bench/load.py --model-dir DIR --max-requests 5000

Bounded: each scenario stops after --seconds or --max-requests, whichever comes first, and the server is
stopped at the end (also on Ctrl-C). Loopback only. The server runs as docs/operating.md says to run it in
production: uvicorn with uvloop and httptools (`uvicorn[standard]`), `python -m serve [--workers N]`.

The client is a small asyncio HTTP/1.1 client on keep-alive connections (one per concurrent user): it costs
far less CPU than httpx, which matters when client and server share 2 cores.
Targets (issue 7): single comment at concurrency 8 p99 <= 50 ms; batches >= 300 comments/s; zero errors.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"  # loopback only, by construction
P99_TARGET_MS = 50.0
BATCH_TARGET_CPS = 300.0
WARMUP_REQUESTS = 20
# Warm-up runs on this many connections, each sending all of it: every worker caches its own article
# embeddings, and `python -m serve --workers N` deals connections to workers in turn, so 4 connections warm
# up to 4 workers.
WARMUP_CONNECTIONS = 4
MAX_UNIQUE_COMMENTS = 100_000


@dataclass
class Result:
    workers: int
    threads: int  # embedding threads per worker (MODERATION_EMBEDDING_THREADS; 0 = the model's default)
    kind: str
    batch: int
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    comments_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    load_avg_before: float
    # CPU the server processes used per scored comment: unlike latency, barely moved by other load on the
    # machine, so it estimates capacity on idle cores (2 cores / this = comments/s at best).
    server_cpu_ms_per_comment: float
    # CPU this benchmark's own client used per request: the share of the 2 cores the server did not get.
    client_cpu_ms_per_request: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ensure_model(model_dir: str | None, work: Path) -> Path:
    if model_dir:
        return Path(model_dir)
    if (ROOT / "models" / "current" / "metadata.json").exists() or (
        ROOT / "models" / "current" / "model.json"
    ).exists():
        return ROOT / "models" / "current"
    print("models/current is absent: training the default model to a temporary directory...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "training.fit", "--out", str(work / "models")],
        cwd=ROOT,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return work / "models" / "current"


def payloads(n: int, batch: int, tag: str, seed: int = 0, first: int = 0) -> list[bytes]:
    """Request bodies built from the corpus: real comments, each batch under one real article.

    Every text ends in a number (`first` upwards; scenarios that share a server pass ranges that do not
    overlap), so no comment is ever sent twice: the model caches embeddings of texts it has seen, and a
    benchmark that repeats texts would measure that cache instead of the model. Articles do repeat, as they
    do on a real site.

    The number is kept short because the encoder's cost grows with every word piece: the earlier suffix
    "(tag123x4)" added 7.1 word pieces to the corpus's mean of 28.3 (+25%), a number adds 2.9 (+10%).
    """
    comments = [json.loads(line) for line in (ROOT / "data" / "comments.jsonl").open(encoding="utf-8")]
    articles = {}
    for line in (ROOT / "data" / "articles.jsonl").open(encoding="utf-8"):
        a = json.loads(line)
        articles[a["article_id"]] = {"title": a["title"], "body": a["body"]}
    rng = random.Random(seed)
    bodies = []
    for i in range(n):
        picked = rng.sample(comments, batch)
        # A batch is a page of comments under one article, as a site would send it.
        article = articles.get(picked[0]["article_id"], {"title": "", "body": ""})
        items = [{"id": f"{tag}-{i}-{j}", "text": f"{c['text']} {first + i * batch + j}"} for j, c in enumerate(picked)]
        bodies.append(json.dumps({"comments": items, "article": article}).encode())
    return bodies


def article_warmup(tag: str) -> list[bytes]:
    """One single-comment request per corpus article, sent before a scenario is measured.

    The model embeds an article the first time it scores a comment under it and remembers the result; on a
    site, an article's first comment pays that once and its hundreds of later comments do not. A short run
    over 80 articles would otherwise spend a good part of its time on first comments and report that as the
    steady state.
    """
    bodies = []
    for i, line in enumerate((ROOT / "data" / "articles.jsonl").open(encoding="utf-8")):
        a = json.loads(line)
        comment = {"id": f"{tag}-warm-{i}", "text": f"Warming up ({tag}{i})."}
        bodies.append(json.dumps({"comments": [comment], "article": {"title": a["title"], "body": a["body"]}}).encode())
    return bodies


def request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def user(port: int, requests: list[bytes], deadline: float, budget: list[int], out: list[tuple[float, int]]):
    """One keep-alive connection sending requests back to back until the deadline or the shared budget ends."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            i = budget[0]  # one event loop: each request gets its own index, so its own unique texts
            started = time.perf_counter()
            try:
                writer.write(requests[i % len(requests)])
                await writer.drain()
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
            out.append((time.perf_counter() - started, status))
            if status == 0:  # connection lost: count it and reconnect
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


async def scenario(
    port: int,
    requests: list[bytes],
    concurrency: int,
    seconds: float,
    max_requests: int,
    on_start: Callable[[], None],
    warmup: Sequence[bytes] = (),
):
    out: list[tuple[float, int]] = []
    # Warm up every worker's caches (every article once, then a few of the scenario's own requests); not
    # measured.
    own = requests[-WARMUP_REQUESTS:]
    lists = [[*warmup, *own[i::WARMUP_CONNECTIONS]] for i in range(WARMUP_CONNECTIONS)]
    await asyncio.gather(*(user(port, w, time.perf_counter() + 120, [len(w)], []) for w in lists))
    requests = requests[:-WARMUP_REQUESTS]
    budget = [max_requests]
    on_start()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(
        *(user(port, requests, started + seconds, budget, out) for _ in range(concurrency)),
    )
    return out, time.perf_counter() - started, time.process_time() - cpu


def server_cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU of the server and its worker processes so far."""
    import psutil  # dev dependency; only the benchmark needs it

    root = psutil.Process(proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def summarize(
    workers: int,
    threads: int,
    batch: int,
    concurrency: int,
    out: list[tuple[float, int]],
    seconds: float,
    load: float,
    cpu_s: float,
    client_cpu_s: float,
):
    latencies = sorted(t * 1000 for t, _ in out)
    errors = sum(1 for _, s in out if s != 200)
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    ok = len(out) - errors
    return Result(
        workers=workers,
        threads=threads,
        kind="single" if batch == 1 else f"batch{batch}",
        batch=batch,
        concurrency=concurrency,
        requests=len(out),
        errors=errors,
        seconds=round(seconds, 2),
        rps=round(len(out) / seconds, 1),
        comments_per_s=round(ok * batch / seconds, 1),
        p50_ms=round(q[49], 1),
        p95_ms=round(q[94], 1),
        p99_ms=round(q[98], 1),
        max_ms=round(latencies[-1], 1),
        load_avg_before=round(load, 2),
        server_cpu_ms_per_comment=round(cpu_s * 1000 / max(1, ok * batch), 2),
        client_cpu_ms_per_request=round(client_cpu_s * 1000 / max(1, len(out)), 2),
    )


def start_server(model_dir: Path, workers: int, threads: int, work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MODERATION_MODEL_DIR": str(model_dir),
        "MODERATION_HOST": HOST,
        "MODERATION_PORT": str(port),
        "MODERATION_DATABASE_URL": f"sqlite:///{work / f'load-{workers}x{threads}.sqlite3'}",
        "MODERATION_LOG_LEVEL": "warning",
        # One client address drives the whole load: the per-client rate limit would turn it into 429s.
        "MODERATION_RATE_LIMIT_PER_MINUTE": "0",
        "MODERATION_EMBEDDING_THREADS": str(threads),
    }
    cmd = [sys.executable, "-m", "serve", "--host", HOST, "--port", str(port), "--model-dir", str(model_dir)]
    if workers > 1:
        cmd += ["--workers", str(workers)]  # serve/workers.py: connections dealt to the workers in turn
    log = open(work / f"server-{workers}x{threads}.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(work / f'server-{workers}x{threads}.log').read_text()}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(f"GET /readyz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    # With several workers, give the others time to finish loading too.
                    time.sleep(3 if workers > 1 else 0)
                    return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not become ready in 240 s")


def write_markdown(path: Path, results: list[Result], meta: dict) -> None:
    lines = [
        "# Load benchmark (bench/load.py)",
        "",
        f"Model `{meta['model_version']}` ({', '.join(meta['features'])}), {meta['cpus']} CPUs, "
        f"uvicorn + uvloop + httptools, client on the same machine. Command: `{meta['command']}`.",
        f"Targets: single comment at concurrency 8 p99 <= {P99_TARGET_MS:.0f} ms; batches >= "
        f"{BATCH_TARGET_CPS:.0f} comments/s; zero errors.",
        "",
        "| workers x threads | request | concurrency | requests | errors | req/s | comments/s | p50 ms | p95 ms | p99 ms | "
        "load avg | server CPU ms/comment | client CPU ms/request |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.workers} x {r.threads} | {r.kind} | {r.concurrency} | {r.requests} | {r.errors} | {r.rps} | {r.comments_per_s} "
            f"| {r.p50_ms} | {r.p95_ms} | {r.p99_ms} | {r.load_avg_before} | {r.server_cpu_ms_per_comment} | {r.client_cpu_ms_per_request} |"
        )
    lines += ["", "Verdicts:", ""] + [f"- {v}" for v in meta["verdicts"]]
    path.write_text("\n".join(lines) + "\n")


def verdicts(results: list[Result]) -> list[str]:
    out = []
    for setup in sorted({(r.workers, r.threads) for r in results}):
        mine = [r for r in results if (r.workers, r.threads) == setup]
        w = f"{setup[0]} worker(s) x {setup[1]} thread(s)"
        single8 = [r for r in mine if r.batch == 1 and r.concurrency == 8]
        batches = [r for r in mine if r.batch > 1]
        errors = sum(r.errors for r in mine)
        if single8:
            ok = single8[0].p99_ms <= P99_TARGET_MS
            out.append(f"{w}: single comment, concurrency 8: p99 {single8[0].p99_ms} ms ({'met' if ok else 'MISSED'})")
        if batches:
            best = max(batches, key=lambda r: r.comments_per_s)
            ok = best.comments_per_s >= BATCH_TARGET_CPS
            out.append(
                f"{w}: batches: best {best.comments_per_s} comments/s at concurrency {best.concurrency} "
                f"({'met' if ok else 'MISSED'})"
            )
        out.append(f"{w}: errors {errors} ({'met' if errors == 0 else 'MISSED'})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="model to serve (default: models/current, else train one)")
    parser.add_argument(
        "--setups", default="1x1,1x2,2x1", help="server setups to measure: WORKERSxEMBEDDING_THREADS, comma-separated"
    )
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--batches", default="1,64", help="comments per request")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario, at most")
    parser.add_argument("--max-requests", type=int, default=5000, help="per scenario, at most")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.seconds > 120 or args.max_requests > 100_000:
        parser.error("keep it bounded: --seconds <= 120 and --max-requests <= 100000")

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        work = Path(tmp)
        model_dir = ensure_model(args.model_dir, work)
        portable = model_dir / "model.json"  # a portable model keeps its metadata inside model.json
        if portable.is_file():
            meta_file = json.loads(portable.read_text())["metadata"]
        else:
            meta_file = json.loads((model_dir / "metadata.json").read_text())
        setups = [tuple(map(int, x.split("x"))) for x in args.setups.split(",")]
        for workers, threads in setups:
            proc, port = start_server(model_dir, workers, threads, work)
            numbered = 0  # texts numbered so far on this server (payloads)
            try:
                for batch in map(int, args.batches.split(",")):
                    for concurrency in map(int, args.concurrency.split(",")):
                        # Unique bodies for every request up to 100,000 comments a scenario; past that, they repeat.
                        tag = f"w{workers}t{threads}b{batch}c{concurrency}r"
                        count = min(args.max_requests, max(50, MAX_UNIQUE_COMMENTS // batch))
                        bs = payloads(count + WARMUP_REQUESTS, batch, tag, first=numbered)
                        numbered += (count + WARMUP_REQUESTS) * batch
                        requests = [request_bytes(port, b) for b in bs]
                        load = os.getloadavg()[0]
                        cpu_at_start: list[float] = []
                        out, seconds, client_cpu = asyncio.run(
                            scenario(
                                port,
                                requests,
                                concurrency,
                                args.seconds,
                                args.max_requests,
                                on_start=lambda: cpu_at_start.append(server_cpu_seconds(proc)),  # noqa: B023
                                warmup=[request_bytes(port, b) for b in article_warmup(tag)],
                            )
                        )
                        cpu = server_cpu_seconds(proc) - cpu_at_start[0]
                        r = summarize(workers, threads, batch, concurrency, out, seconds, load, cpu, client_cpu)
                        results.append(r)
                        print(json.dumps(asdict(r)), flush=True)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    meta = {
        "model_version": meta_file["version"],
        "features": meta_file.get("features", []),
        "cpus": os.cpu_count(),
        "command": "python bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "verdicts": verdicts(results),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps({**meta, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    write_markdown(args.out / "load.md", results, meta)
    print("\n".join(meta["verdicts"]))
    print(f"wrote {args.out / 'load.json'} and {args.out / 'load.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
