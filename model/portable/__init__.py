"""A portable model: a folder of data (JSON and .npz, each checksummed) that scores with numpy alone.

Nothing in it is unpickled and no scikit-learn is needed to score: the feature blocks are rebuilt from
their arrays (model/portable/blocks.py) and the project's own text code, the encoder is the project's
Embedder (ONNX Runtime), and the result is CommentClassifier's probabilities. The files are described in
model/portable/files.py; `python -m model.portable export SRC_MODEL_DIR DEST` converts a pickled model
(model/portable/convert.py).
"""

from pathlib import Path
from typing import Any

from ..modeldir import ENCODER_DIR, ArtifactError, new_version
from .export import PORTABLE_BLOCKS, describe
from .files import ARRAYS_FILE, CHECKSUMS_FILE, MODEL_JSON, folder_size, read_folder, write_folder
from .predictor import Features, PortablePredictor, build_predictor

__all__ = [
    "ARRAYS_FILE",
    "CHECKSUMS_FILE",
    "MODEL_JSON",
    "Features",
    "PORTABLE_BLOCKS",
    "PortablePredictor",
    "export",
    "folder_size",
    "load",
]


def export(estimator: Any, metadata: dict[str, Any], folder: Path, encoder: Path | None = None) -> Path:
    """Write a fitted CommentClassifier and its metadata as a portable model folder (which must not exist).

    encoder: the folder of the fine-tuned encoder the estimator embeds with, copied into the model as
    ENCODER_DIR; None when it uses the bundled encoder (or a folder of the user's, named as it is).
    """
    spec, arrays = describe(estimator, shipped_encoder=encoder is not None)
    labels = metadata.get("labels")
    if labels is not None and list(labels) != spec["classes"]:
        raise ArtifactError(f"metadata names labels {labels}, but the estimator predicts {spec['classes']}")
    # Labels are `classes`; sha256 and format_version described model.joblib, which is not in this folder.
    meta = {k: v for k, v in metadata.items() if k not in ("labels", "sha256", "format_version")}
    meta.setdefault("version", new_version())
    spec["metadata"] = meta
    return write_folder(Path(folder), spec, arrays, {ENCODER_DIR: Path(encoder)} if encoder else {})


def load(folder: Path) -> PortablePredictor:
    """The predictor of a portable model folder, after checking every file's sha256. Never unpickles."""
    folder = Path(folder).resolve()
    spec, arrays = read_folder(folder)
    return build_predictor(spec, arrays, folder)
