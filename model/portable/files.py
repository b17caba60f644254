"""The files of a portable model folder, written atomically and read back only after their checksums match.

model.json      format, classes, feature blocks and their parameters, linear layer, calibration, encoder
                reference (config with the sha256 of its weights), metadata, and arrays.npz's sha256
arrays.npz      every number and vocabulary, as plain numeric and unicode arrays (never object arrays)
checksums.txt   sha256 of model.json and arrays.npz, in `sha256sum -c` format
encoder/        only for a model with a fine-tuned encoder: its weights, pinned by model.json
"""

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..checksum import CHECKSUMS_FILE, read_checksums, sha256_file, verify, write_checksums
from ..modeldir import ArtifactError, checked

MODEL_JSON = "model.json"
ARRAYS_FILE = "arrays.npz"
FORMAT = "comment-moderation/portable"
FORMAT_VERSION = 1
REEXPORT = "export it again with `python -m model.portable export SRC_MODEL_DIR DEST`, or restore the folder"


def write_folder(folder: Path, spec: dict[str, Any], arrays: dict[str, np.ndarray], files: dict[str, Path]) -> Path:
    """Write the model under a temporary name beside `folder`, then rename it into place.

    files: folders to copy in, by the relative name they get (the fine-tuned encoder).
    """
    folder = Path(folder)
    if folder.exists():
        raise ArtifactError(f"{folder} already exists; choose another folder or remove it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        # cast: numpy's stubs type **kwds against its own `allow_pickle: bool` too; these are all arrays.
        np.savez_compressed(tmp / ARRAYS_FILE, **cast(dict[str, Any], arrays))
        for name, source in files.items():
            shutil.copytree(source, tmp / name)
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **spec,
            "arrays": {"file": ARRAYS_FILE, "sha256": sha256_file(tmp / ARRAYS_FILE)},
        }
        _write(tmp / MODEL_JSON, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        write_checksums(tmp, (MODEL_JSON, ARRAYS_FILE))
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide a shipped model from the user that serves it
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_folder(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(model.json, arrays.npz's arrays) of a portable model, each file checked against its sha256 first."""
    folder = Path(folder)
    recorded = checked(read_checksums, folder, REEXPORT)
    spec_file = folder / MODEL_JSON
    checked(verify, spec_file, recorded.get(MODEL_JSON), CHECKSUMS_FILE, REEXPORT)
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{spec_file} is not valid JSON ({e}); {REEXPORT}") from e
    if spec.get("format") != FORMAT or spec.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{spec_file} is format {spec.get('format')!r} version {spec.get('format_version')!r}; this code reads "
            f"{FORMAT!r} version {FORMAT_VERSION}: load it with the code that wrote it, or {REEXPORT}"
        )
    arrays_file = folder / ARRAYS_FILE
    checked(verify, arrays_file, spec.get("arrays", {}).get("sha256"), MODEL_JSON, REEXPORT)
    try:
        with np.load(arrays_file, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as e:  # an object array asks for pickle, which is refused
        raise ArtifactError(f"{arrays_file} holds arrays that need unpickling ({e}); refusing them: {REEXPORT}") from e
    return spec, arrays


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def folder_size(folder: Path) -> int:
    """Bytes of every file in the folder, the shipped encoder's included."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
