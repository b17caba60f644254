"""What a whole model costs to serve with another encoder: two model directories side by side (issue 19, round 7).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/encoder_cost.py models/default /path/to/other/current

For each model, in one process, alternating A B A B so both see the same machine: load time, single-comment
latency p50/p99 and batch throughput of predict_proba on the same comments from data/ (bench/speed.py's
measures, the embedding on the serving default of threads), and the process's memory growth. Writes
bench/results/encoder-cost.md. Run it on an otherwise idle machine.
"""
# ruff: noqa: E402  (the repository root goes on sys.path before the project is imported)

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from speed import corpus, default_model

ROUNDS = 2


def main(dirs: list[Path]) -> None:
    comments = corpus(400)
    runs: dict[Path, list[dict]] = {d: [] for d in dirs}
    for _ in range(ROUNDS):
        for d in dirs:
            runs[d].append(default_model(d, comments, batch=64, threads=0))
            print(d, runs[d][-1], flush=True)
    lines = [
        "# The whole model with another encoder: serving cost, side by side",
        "",
        f"Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/dev_choices/encoder_cost.py {' '.join(map(str, dirs))}`"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}), this 2-core machine, idle otherwise.",
        "",
        f"{len(comments)} comments from data/ with their articles: half timed one at a time, half in batches of 64.",
        f"Each model measured {ROUNDS} times, alternating; the median of the runs is shown.",
        "",
        "| model | encoder runtime | load s | single p50 ms | single p99 ms | batch comments/s |",
        "|---|---|---|---|---|---|",
    ]
    for d in dirs:
        r = runs[d]

        def med(f, r=r):
            return statistics.median(f(x) for x in r)

        lines.append(
            f"| `{d}` | {r[0]['runtime']} | {med(lambda x: x['load_s']):.2f} | {med(lambda x: x['single']['p50_ms']):.1f} | "
            f"{med(lambda x: x['single']['p99_ms']):.1f} | {med(lambda x: x['batch_per_s']):.0f} |"
        )
    out = ROOT / "bench" / "results" / "encoder-cost.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: encoder_cost.py MODEL_DIR MODEL_DIR [...]")
    main([Path(a) for a in sys.argv[1:]])
