"""Run a model once before it serves, so its first real request is not the one that pays (or fails).

Feature blocks with sentence embeddings load torch, transformers and the weights lazily, on first use. Done
by concurrent requests, that first use raced inside transformers' lazy imports (ImportError under load, seen
in tests/test_reload.py) and made the first requests slow; a model whose weights are missing or fail their
checksum would only fail there. A warm-up at start and at reload, before the model is swapped in, moves all
of that to a moment where a failure stops the start or is a 409 that keeps the old model.
"""

import gc
from collections.abc import Callable

from model.artifact import ArtifactError, LoadedModel, load_model
from model.inputs import Comment

from .perspective_attributes import analyze, load_attributes
from .state import ModelHolder

# Has an article, so article-aware blocks (relevance) run their full path too.
_WARM_UP = [Comment("Warm-up comment about the article.", "Warm-up article", "The article body.")]


def warm_up(loaded: LoadedModel) -> None:
    """Score one comment, and its Perspective attributes and spans where the model has them; any failure is an
    ArtifactError naming the model version (or the attributes file at fault)."""
    try:
        loaded.estimator.predict_proba(_WARM_UP)
    except Exception as e:  # the model's own code and third-party loaders raise many kinds
        raise ArtifactError(
            f"model {loaded.version} loaded but could not score a comment ({type(e).__name__}: {e}); "
            "check that its feature blocks' dependencies (e.g. embedding weights) are installed"
        ) from e
    attributes = load_attributes(loaded)  # a damaged attributes/ folder is refused here, naming the file
    if attributes is None:
        return
    try:
        analyze(loaded, attributes, _WARM_UP[0].text, spans=True)
    except Exception as e:
        raise ArtifactError(
            f"model {loaded.version}: its attributes/ loaded but could not score a comment ({type(e).__name__}: {e}); "
            "retrain them with `python -m training.attributes --model-dir DIR`"
        ) from e


def settle_heap() -> None:
    """Collect once, then exempt everything alive from future collections (gc.freeze).

    Why: a loaded model is about 200,000 objects the cycle collector tracks (vocabularies, word lists,
    caches), and a full collection walks all of them with the GIL held: 76 ms measured, during which every
    request in flight waits. Full collections come as caches fill under load, so they set the tail latency.
    Frozen objects are skipped by the collector; reference counting still frees them when they are dropped.
    At a reload the previous freeze is undone first, so a replaced model's reference cycles can be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class WarmModelHolder(ModelHolder):
    """ModelHolder whose load() warms the new model up before swapping it in."""

    def load(self, accept: Callable[[LoadedModel], None] | None = None) -> LoadedModel:
        with self._lock:
            loaded = load_model(self.model_dir)
            if accept is not None:
                accept(loaded)
            warm_up(loaded)
            self._current = loaded  # one reference assignment: requests in flight keep the old model
            return loaded
