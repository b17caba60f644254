"""The comment classifier as a library: labels, normalisation, features, estimator and artifact.

Knows nothing of training data files or HTTP; `training/` and `serve/` build on it.
"""

from .artifact import ArtifactError, LoadedModel, load_model, save_model
from .classifier import CommentClassifier
from .inputs import Comment
from .labels import LABELS
from .normalize import normalize

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
