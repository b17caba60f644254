"""The Perspective attributes of the model being served (model/attributes.py), loaded beside it.

A model directory with an `attributes/` folder answers SEVERE_TOXICITY, INSULT, PROFANITY, THREAT and
IDENTITY_ATTACK, and spans; one without answers the attributes it has, and names them in a 400. A damaged
folder stops the start, or a reload keeps the previous model: read_attributes checks every file's sha256.

Loaded once per loaded model, at start and at reload (serve/warm.py), and remembered by the model object, so a
request only looks it up. The heads read the model's own sentence embedding of the comment, which /v1/predict's
scoring has just computed and the model's embedder remembers: no second encoder pass.
"""

import threading
import weakref
from typing import Any

import numpy as np

from model.attribute_files import FOLDER, encoder_mismatch, read_attributes
from model.attributes import Attributes
from model.modeldir import ArtifactError
from model.normalize import normalize

_lock = threading.Lock()
# estimator -> its attributes, forgotten with the estimator: a replaced model is not kept alive by this.
_known: "weakref.WeakKeyDictionary[Any, Attributes | None]" = weakref.WeakKeyDictionary()


def load_attributes(loaded: Any) -> Attributes | None:
    """The attributes of `loaded` (a LoadedModel), read and checked on first call; None when it has none.
    Raises ArtifactError naming the file when the folder is damaged or does not fit the model."""
    estimator = loaded.estimator
    with _lock:
        if estimator in _known:
            return _known[estimator]
    attributes = read_attributes(loaded.path)
    if attributes is not None:
        embedder = getattr(estimator, "embedder_", None)
        if embedder is None:
            raise ArtifactError(
                f"{loaded.path / FOLDER}: the attribute heads read the model's sentence embedding, but model "
                f"{loaded.version} embeds nothing; remove {FOLDER}/ or serve a model with an encoder"
            )
        why = encoder_mismatch(attributes, embedder.config.as_dict())
        if why:
            raise ArtifactError(
                f"{loaded.path / FOLDER} does not fit model {loaded.version}: {why}; retrain them for this model with "
                f"`python -m training.attributes --model-dir {loaded.path}`"
            )
    with _lock:
        _known[estimator] = attributes
    return attributes


def analyze(loaded: Any, attributes: Attributes, text: str, spans: bool) -> tuple[dict[str, float], dict]:
    """Head scores and (spans=True) spans for one comment; CPU work, run it off the event loop."""
    normalized = normalize(text)
    embedding = loaded.estimator.embedder_.embed([normalized])[0]
    return attributes.analyze(text, normalized, np.asarray(embedding), spans)
