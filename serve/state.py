"""The loaded model, held so that a reload can swap it without dropping requests in flight."""

import threading
from collections.abc import Callable
from pathlib import Path

from model.artifact import LoadedModel, load_model
from model.policy import Policy


class ModelHolder:
    def __init__(self, model_dir: Path, loaded: LoadedModel | None = None) -> None:
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._current = loaded

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def load(self, accept: Callable[[LoadedModel], None] | None = None) -> LoadedModel:
        """Load model_dir and swap it in; on failure the previous model keeps serving and the error is raised.
        `accept` may refuse the new model (raise) before it is swapped in: the policy checks its labels."""
        with self._lock:
            loaded = load_model(self.model_dir)
            if accept is not None:
                accept(loaded)
            # A single reference assignment: requests that already hold the old model finish with it.
            self._current = loaded
            return loaded


def fits_policy(policy: Policy, policy_file: Path | None) -> Callable[[LoadedModel], None]:
    """A ModelHolder.load `accept` that refuses (PolicyError) a model lacking a label the policy thresholds."""

    def accept(loaded: LoadedModel) -> None:
        policy.check_labels(
            loaded.metadata["labels"],
            f"model {loaded.version}",
            f"policy file {policy_file.name}" if policy_file else "the default policy",
        )

    return accept
