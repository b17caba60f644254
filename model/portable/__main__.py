"""python -m model.portable export SRC_MODEL_DIR DEST: convert a pickled model into a portable folder."""

import argparse
import sys
from pathlib import Path

from ..modeldir import ArtifactError
from .convert import export_model_dir
from .files import folder_size


def main(argv: list[str] | None = None, prog: str = "python -m model.portable") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").replace("python -m model.portable", prog))
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write a pickled model's numbers as a portable model folder")
    export.add_argument("source", type=Path, help="a model version directory, or models/ (its current model)")
    export.add_argument("dest", type=Path, help="the folder to create; it must not exist")
    args = parser.parse_args(argv)
    try:
        folder = export_model_dir(args.source, args.dest)
    except ArtifactError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    print(f"wrote {folder}: {len(files)} files, {folder_size(folder) / 1e6:.1f} MB")
    for path in files:
        print(f"  {path.relative_to(folder)}  {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
