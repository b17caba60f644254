"""What every model directory has, whichever its format: pickled (model/artifact.py) or portable
(model/portable/). The error that refuses one, the name of a new version, and the fine-tuned encoder a model
may carry in its own folder.

Below both formats, so that each imports it and neither imports the other: model/artifact.py's load_model
reads either kind, and the portable format must not need it.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from .checksum import ChecksumError, sha256_file
from .embeddings import WEIGHTS_FILES

# A fine-tuned encoder's folder inside the version directory; the pickled embedding config names it by this
# relative path, which load_model resolves against the directory the model is loaded from.
ENCODER_DIR = "encoder"


class ArtifactError(RuntimeError):
    """A model directory is missing, incomplete, tampered with or from incompatible libraries."""


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def bind_encoder(config: Any, path: Path) -> Any:
    """`config` (an EmbedderConfig) with a fine-tuned encoder named ENCODER_DIR resolved against the model
    directory `path`, after checking its weights; any other config is returned as it is."""
    # Only the name training gives a tuned encoder: a user's own relative embedding_model folder keeps meaning
    # what it meant before (relative to the working directory).
    if config.path != ENCODER_DIR:
        return config
    folder = path / config.path
    if not folder.is_dir():
        raise ArtifactError(
            f"{path} was trained with a fine-tuned encoder that should be in {folder}, which is missing; "
            "the artifact is incomplete: copy the whole version directory, or retrain"
        )
    # Checked here as well as on first embedding, so that a swapped or damaged encoder is refused at load
    # time with the artifact's remedy rather than the bundled package's.
    weights = next((folder / n for n in WEIGHTS_FILES if (folder / n).is_file()), None)
    found = sha256_file(weights) if weights else "missing"
    if found != config.sha256:
        raise ArtifactError(
            f"{weights or folder}: sha256 is {found[:16]}..., but the model pins {config.sha256[:16]}...; the "
            "fine-tuned encoder is corrupt or was replaced. Restore the whole version directory, or retrain"
        )
    return replace(config, path=str(folder))


T = TypeVar("T")


def checked(check: Callable[..., T], *args: Any) -> T:
    """`check(*args)` (model/checksum.py's read_checksums or verify), its ChecksumError raised as the
    ArtifactError that every loader's caller handles."""
    try:
        return check(*args)
    except ChecksumError as e:
        raise ArtifactError(str(e)) from None
