"""Benchmark archive scoring: comments/s and peak memory, local engine vs Dask with 1 and 2 workers.

    python bench/batch.py                      # 1,000,000 comments (the issue's size)
    python bench/batch.py --rows 100000        # smaller, a few minutes on 2 cores

The archive is generated in a temporary directory from data/comments.jsonl (tests/fixtures/tiny.jsonl when
the corpus is absent), cycling its comments with a row number appended so no two texts are equal; it is
never stored in the repo. Each configuration runs `python -m training.score` in a subprocess, sampling the
RSS of that process and all its children (Dask's nanny and worker processes) every 0.2 s.
Results: bench/results/batch.json and bench/results/batch.md.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONFIGS = {
    "local": [],
    "dask-1-worker": ["--engine", "dask", "--workers", "1"],
    "dask-2-workers": ["--engine", "dask", "--workers", "2"],
}


def corpus() -> tuple[Path, list[dict[str, Any]]]:
    source = ROOT / "data" / "comments.jsonl"
    if not source.is_file():
        source = ROOT / "tests" / "fixtures" / "tiny.jsonl"
    rows = []
    for line in source.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the corpus may be mid-rewrite by its build; a torn line is not a benchmark input
        if isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip():
            rows.append({"text": row["text"], "article_id": row.get("article_id")})
    if not rows:
        raise SystemExit(f"{source} holds no usable comments; build the corpus first")
    return source, rows


def build_archive(path: Path, rows: int, base: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            row = base[i % len(base)]
            f.write(json.dumps({"id": f"b{i}", "text": f"{row['text']} ({i})", "article_id": row["article_id"]}) + "\n")


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run cmd; return wall seconds and the peak RSS of the process tree (sum) and of its largest process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = [p.memory_info().rss for p in tree]
        except psutil.NoSuchProcess:
            continue
        peak_tree, peak_one = max(peak_tree, sum(rss)), max(peak_one, max(rss))
        time.sleep(0.2)
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{stdout}")
    return {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "peak_rss_tree_mb": round(peak_tree / 2**20),
        "peak_rss_largest_process_mb": round(peak_one / 2**20),
        "summary_line": stdout.splitlines()[0] if stdout else "",
    }


def markdown(tag: str, result: dict[str, Any]) -> str:
    lines = [
        f"## {tag}",
        "",
        f"Command: `{result['command']}`  ",
        f"When: {result['when']}; machine: {result['machine']}  ",
        f"Archive: {result['rows']:,} comments generated from `{result['corpus']}`, JSONL, "
        f"{result['archive_mb']} MB, parts of {result['part_rows']:,} rows, batch {result['batch_size']}  ",
        f"Model: `{result['model']}` (version {result['model_version']}, features {result['model_features']})",
        "",
        "| engine | comments/s (whole command) | comments/s (scoring, from summary) | wall s | peak RSS, all processes | peak RSS, largest process |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in result["runs"].items():
        lines.append(
            f"| {name} | {r['comments_per_second_wall']:,.0f} | {r['comments_per_second']:,.0f} | {r['wall_seconds']} "
            f"| {r['peak_rss_tree_mb']} MB | {r['peak_rss_largest_process_mb']} MB |"
        )
    lines += [
        "",
        "Whole command = rows / wall time including Python start-up, planning, and for Dask the cluster start-up. "
        "Scoring = rows / time from the first partition submitted to the last written (the CLI's summary). "
        f"Load average at start: {result['load_average_start']}, at end: {result['load_average_end']} "
        "(other jobs on the machine slow every engine alike).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="comments in the generated archive")
    p.add_argument("--model", default=str(ROOT / "models" / "current"), help="model directory to score with")
    p.add_argument("--part-rows", type=int, default=None, help="rows per part (default: rows / 20)")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--engines", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--tag", default="default", help="name of this result in batch.json (one entry per tag is kept)")
    args = p.parse_args()
    load_start = [round(x, 1) for x in os.getloadavg()]
    from model.artifact import ArtifactError, read_metadata

    try:
        meta = read_metadata(Path(args.model))
    except ArtifactError as e:
        raise SystemExit(f"{e}\ntrain a model first (`python -m training.fit`) or pass --model DIR") from e
    part_rows = args.part_rows or max(args.rows // 20, 1)
    source, base = corpus()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        archive = work / "archive.jsonl"
        build_archive(archive, args.rows, base)
        articles = ROOT / "data" / "articles.jsonl"
        runs = {}
        for name in args.engines:
            cmd = [sys.executable, "-m", "training.score", "--model", args.model, "--data", str(archive)]
            cmd += ["--out", str(work / name), "--part-rows", str(part_rows), "--batch-size", str(args.batch_size)]
            cmd += ["--no-progress", *CONFIGS[name], *(["--articles", str(articles)] if articles.is_file() else [])]
            print(f"[bench] {name}: {args.rows:,} rows ...", file=sys.stderr, flush=True)
            r = measure(cmd)
            summary = json.loads((work / name / "_summary.json").read_text(encoding="utf-8"))
            r["comments_per_second"] = summary["comments_per_second"]
            r["comments_per_second_wall"] = round(args.rows / r["wall_seconds"], 1)
            runs[name] = r
            print(f"[bench] {name}: {r}", file=sys.stderr, flush=True)
        result = {
            "command": " ".join(["python", "bench/batch.py", *sys.argv[1:]]),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB",
            "load_average_start": load_start,
            "rows": args.rows,
            "corpus": str(source.relative_to(ROOT)),
            "archive_mb": round(archive.stat().st_size / 2**20, 1),
            "part_rows": part_rows,
            "batch_size": args.batch_size,
            "model": args.model,
            "model_version": meta["version"],
            "model_features": meta.get("features") or meta.get("config", {}).get("features"),
            "runs": runs,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "batch.json"
    # One entry per --tag, so a fast n-gram run and a slow embedding run can sit side by side.
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results[args.tag] = result
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = "# Archive scoring benchmark (`bench/batch.py`)\n\n" + "\n".join(markdown(t, r) for t, r in results.items())
    (RESULTS / "batch.md").write_text(text, encoding="utf-8")
    print(markdown(args.tag, result))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
