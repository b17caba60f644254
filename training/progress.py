"""Progress bars for the long stages of `fit`: embedding, calibration folds, fine-tuning.

Shown on a terminal only: with `--quiet`, or when stderr is a file or a pipe (a CI log, `2> fit.log`), there
are no bars and fit's one line per stage (training.fit.log) is all there is.
"""

import os
import sys
from collections.abc import Callable, Sequence

from tqdm import tqdm

from model.embeddings import Embedder

# Texts per call to the encoder under the bar: a few seconds each on 2 cores, so the bar moves, while each
# call still sorts its texts by length to pad little.
EMBED_CHUNK = 512


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def bar(show: bool, total: int, desc: str, unit: str) -> tqdm:
    width = _reported_width() if show else None
    # A terminal that reports 0 columns (a bare pseudo-terminal: `script`, some CI runners) gets empty bars
    # from tqdm; those get $COLUMNS or 80 instead of following the width.
    fixed = {"ncols": int(os.environ.get("COLUMNS") or 80)} if width == 0 else {"dynamic_ncols": True}
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, file=sys.stderr, **fixed)


def _reported_width() -> int | None:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return None


def embed_ahead(embedder: Embedder, texts: Sequence[str], show: bool) -> None:
    """Embed `texts` now, chunk by chunk under a bar; the classifier then finds them in the embedder's memory.

    Without a bar nothing is done here (the classifier embeds them all in one call, as before), nor when the
    embedder could not keep them all (it would embed them again).
    """
    todo = list(dict.fromkeys(texts))
    if not show or not todo or len(todo) > embedder.cache_size:
        return
    with bar(show, len(todo), "embedding", "text") as progress:
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start : start + EMBED_CHUNK]
            embedder.embed(chunk)
            progress.update(len(chunk))


def fold_counter(show: bool, desc: str, folds: int) -> tuple[tqdm, Callable[[int, int], None]]:
    """A bar over the calibration folds, and the callback CommentClassifier.fit(on_fold=...) moves it with
    (which may find fewer folds than configured, on data with few comments of a label)."""
    progress = bar(show, folds, desc, "fold")

    def on_fold(done: int, total: int) -> None:
        progress.total = total
        progress.update(done - progress.n)

    return progress, on_fold
