"""A pickled model, converted: `python -m model.portable export SRC_MODEL_DIR DEST`.

Apart from the format itself (this package's __init__), because it reads a pickled model with
model/artifact.py's load_model, and load_model reads portable folders with this package: the format does not
import the artifact, only this converter does.
"""

from pathlib import Path

from ..artifact import load_model
from ..modeldir import ENCODER_DIR, ArtifactError
from . import export
from .files import MODEL_JSON


def export_model_dir(source: Path, dest: Path) -> Path:
    """Convert the pickled model in `source` (a version directory, or models/ meaning its current one)."""
    if (Path(source) / MODEL_JSON).is_file():
        raise ArtifactError(f"{source} is already a portable model; copy the folder instead")
    loaded = load_model(Path(source))
    config = getattr(getattr(loaded.estimator, "embedder_", None), "config", None)
    tuned = loaded.path / ENCODER_DIR
    shipped = tuned if config is not None and config.path == str(tuned) else None
    return export(loaded.estimator, loaded.metadata, Path(dest), encoder=shipped)
