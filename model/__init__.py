"""The comment classifier as a library: labels, normalisation, features, estimator and artifact.

Knows nothing of training data files or HTTP; `training/` and `serve/` build on it.

The artifact and classifier names are imported on first use (PEP 562), so that importing a submodule, such
as the portable scoring path `model.portable`, does not import scikit-learn through the classifier.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Imported now: they are light, and `normalize` must be bound to the function before anything imports the
# submodule of the same name (which would otherwise shadow it).
from .inputs import Comment
from .labels import LABELS
from .normalize import normalize

if TYPE_CHECKING:
    from .artifact import ArtifactError, LoadedModel, load_model, save_model
    from .classifier import CommentClassifier

_WHERE = {
    "ArtifactError": "artifact",
    "LoadedModel": "artifact",
    "load_model": "artifact",
    "save_model": "artifact",
    "CommentClassifier": "classifier",
}

__all__ = [
    "LABELS",
    "ArtifactError",
    "Comment",
    "CommentClassifier",
    "LoadedModel",
    "load_model",
    "normalize",
    "save_model",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
