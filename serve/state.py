"""The loaded model, held so that a reload can swap it without dropping requests in flight."""

import threading
from pathlib import Path

from model.artifact import LoadedModel, load_model


class ModelHolder:
    def __init__(self, model_dir: Path, loaded: LoadedModel | None = None) -> None:
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._current = loaded

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def load(self) -> LoadedModel:
        """Load model_dir and swap it in; on failure the previous model keeps serving and the error is raised."""
        with self._lock:
            loaded = load_model(self.model_dir)
            # A single reference assignment: requests that already hold the old model finish with it.
            self._current = loaded
            return loaded
