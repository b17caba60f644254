"""The `comment-moderation` console script: one command over the `python -m` entry points.

Each subcommand hands the rest of the command line to the module that `python -m` runs, imported only
when that subcommand runs: `comment-moderation serve --help` or `--version` loads neither torch nor
scikit-learn.
"""

import argparse
import sys
from dataclasses import dataclass
from importlib import import_module

from .version import package_version

PROG = "comment-moderation"


@dataclass(frozen=True)
class Command:
    module: str  # what `python -m` runs; its main(argv, prog) does the work
    summary: str
    example: str


COMMANDS = {
    "serve": Command("serve.__main__", "run the HTTP service", "serve --model-dir models/default --port 8000"),
    "fit": Command("training.fit", "train a model and write a versioned artifact", "fit --data data/ --out models"),
    "evaluate": Command(
        "training.evaluate",
        "write an evaluation report of a model on labelled comments",
        "evaluate --model models/current --data held_out.jsonl --out reports/latest",
    ),
    "score": Command(
        "training.score",
        "score a whole comment archive into Parquet parts",
        "score --model models/current --data 'archive/*.jsonl' --out scores/",
    ),
    "export-feedback": Command(
        "training.export_feedback",
        "write the moderators' stored feedback as training JSONL",
        "export-feedback --out feedback.jsonl",
    ),
    "db": Command("storage.__main__", "database migrations: upgrade, current, revision", "db upgrade"),
    "portable": Command(
        "model.portable.__main__",
        "convert a pickled model into a portable model folder",
        "portable export models/current models/portable",
    ),
}


def _parser() -> argparse.ArgumentParser:
    examples = "\n".join(f"  {PROG} {c.example}" for c in COMMANDS.values())
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Self-hosted comment moderation: label comments spam, toxic or substantive.",
        epilog=f"examples:\n{examples}\n\n`{PROG} COMMAND --help` describes each command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        # add_help=False: `COMMAND --help` is answered by the command's own parser, with all its options.
        sub.add_parser(name, help=command.summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Only the command name is parsed here; everything after it belongs to the command.
    parser = _parser()
    split = next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))
    args = parser.parse_args(argv[: split + 1])
    command = COMMANDS[args.command]
    entry = import_module(command.module)
    return int(entry.main(argv[split + 1 :], prog=f"{PROG} {args.command}") or 0)


if __name__ == "__main__":
    sys.exit(main())
