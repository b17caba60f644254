"""Score a whole comment archive into Parquet parts: `python -m training.score --data FILE_OR_GLOB --out DIR`.

    python -m training.score --model models/current --data 'archive/*.jsonl' --out scores/
    python -m training.score --data archive.parquet --out s3://bucket/scores --engine dask --scheduler tcp://host:8786

Rerunning the same command after an interruption skips the parts already complete. See docs/batch.md
for the output layout and for running on a multi-machine Dask cluster.
"""

import argparse
import sys

from model.artifact import ArtifactError
from model.policy import PolicyError
from training.scoring.engines import ENGINES, run
from training.scoring.scorer import Job
from training.scoring.sources import ScoreError


def parse_args(argv: list[str] | None = None, prog: str = "python -m training.score") -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m training.score", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="models/current", help="model directory (default: models/current)")
    p.add_argument(
        "--data", nargs="+", required=True, help="CSV, JSONL or Parquet files, directories or globs (any fsspec URL)"
    )
    p.add_argument("--out", required=True, help="output directory (any fsspec URL, e.g. s3://bucket/scores)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    p.add_argument(
        "--scheduler", help="Dask scheduler address tcp://HOST:PORT; without it --engine dask starts a local cluster"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="workers of the local Dask cluster (default: one per core)"
    )
    # 2048 rows amortise the vectoriser's per-call overhead; memory per batch stays a few MB.
    p.add_argument("--batch-size", type=int, default=2048, help="comments per model call (default 2048)")
    # 50,000 rows per part: a lost part costs under a minute to redo, and 1M rows make 20 tasks.
    p.add_argument("--part-rows", type=int, default=50_000, help="input rows per output part (default 50000)")
    p.add_argument("--policy", help="policy TOML for the action column (default policies/default.toml)")
    p.add_argument("--articles", help="articles JSONL (article_id, title, body) joined to comments by article_id")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in logs)")
    args = p.parse_args(argv)
    if args.scheduler and args.engine != "dask":
        p.error("--scheduler needs --engine dask")
    if args.batch_size < 1:
        p.error(f"--batch-size must be at least 1, found {args.batch_size}")
    return args


def main(argv: list[str] | None = None, prog: str = "python -m training.score") -> int:
    args = parse_args(argv, prog)
    job = Job(model=args.model, out=args.out, batch_size=args.batch_size, policy=args.policy, articles=args.articles)
    try:
        summary = run(
            args.data,
            job,
            part_rows=args.part_rows,
            engine=args.engine,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
        )
    except (ScoreError, ArtifactError, PolicyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary.format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
